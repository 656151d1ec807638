#include "dind/image/layer_store.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"
#include "dind/base/text.hpp"
#include "dind/image/layer_unpack.hpp"
#include "dind/image/reference.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

namespace {

constexpr unsigned long kOverlayMagic = 0x794c7630;  // OVERLAYFS_SUPER_MAGIC

std::string random_name() {
  return base::random_hex(16);
}

Status make_dir(const fs::path& p, mode_t mode) {
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) {
    return base::sys_error(errno, "mkdir " + p.string());
  }
  return {};
}

Status touch(const fs::path& p, mode_t mode) {
  base::UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) {
    return base::sys_error(errno, "create " + p.string());
  }
  return {};
}

}  // namespace

Result<LayerStore> LayerStore::open(const fs::path& root) {
  base::FileTransaction tx;
  DIND_TRY(tx.ensure_dir(root, 0700));
  DIND_TRY(tx.commit());
  struct statfs st {};
  if (::statfs(root.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == kOverlayMagic) {
    return make_error(
        ErrorKind::kFailedPrecondition,
        "the data root " + root.string() +
            " is on overlayfs, which cannot hold overlay upper and work directories: "
            "put the data root on a volume (for the appliance: -v dind-data:/var/lib/docker)");
  }
  for (const char* sub : {"layers", "mounts", "tmp"}) {
    DIND_TRY(make_dir(root / sub, 0700));
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "tmp", ec)) {
    fs::remove_all(e.path(), ec);  // half-unpacked layers from before a crash
  }
  LayerStore s;
  s.root_ = root;
  return s;
}

fs::path LayerStore::layer_dir(const std::string& chain_id) const {
  return root_ / "layers" / chain_id.substr(7);
}

bool LayerStore::has(const std::string& chain_id) const {
  return valid_digest(chain_id) && fs::exists(layer_dir(chain_id) / "meta.json");
}

Result<LayerInfo> LayerStore::get(const std::string& chain_id) const {
  if (!valid_digest(chain_id)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid chain ID \"" + chain_id + "\"");
  }
  auto text = base::read_file(layer_dir(chain_id) / "meta.json", 64 * 1024);
  if (!text) {
    if (text.error().sys_errno == ENOENT) {
      return make_error(ErrorKind::kNotFound, "layer " + chain_id + " not found");
    }
    return std::move(text).error();
  }
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || doc.value("version", 0) != 1 || doc.value("chain_id", "") != chain_id) {
    return make_error(ErrorKind::kDataLoss, "layer metadata of " + chain_id + " is corrupt");
  }
  LayerInfo info;
  info.chain_id = chain_id;
  info.diff_id = doc.value("diff_id", "");
  if (doc.contains("parent") && doc["parent"].is_string()) {
    info.parent = doc["parent"].get<std::string>();
  }
  info.size = doc.value("size", uint64_t{0});
  info.diff_dir = layer_dir(chain_id) / "diff";
  return info;
}

Result<LayerStore::Staged> LayerStore::stage(const LayerReader& reader, ContentStore* keep_tar) {
  Staged staged;
  staged.dir = root_ / "tmp" / random_name();
  DIND_TRY(make_dir(staged.dir, 0700));
  DIND_TRY(make_dir(staged.dir / "diff", 0755));
  std::optional<ContentStore::Writer> tar;
  if (keep_tar) {
    auto w = keep_tar->writer({}, {}, /*durable=*/false);
    if (!w) {
      discard(staged);
      return std::move(w).error();
    }
    tar.emplace(std::move(*w));
  }
  LayerTee tee;
  if (tar) {
    tee = [&tar](std::string_view chunk) { return tar->write(chunk); };
  }
  auto unpacked = unpack_layer(reader, staged.dir / "diff", tee);
  if (!unpacked) {
    discard(staged);
    return std::move(unpacked).error();
  }
  if (tar) {
    auto digest = tar->commit();
    if (!digest || *digest != unpacked->diff_id) {
      discard(staged);
      return digest ? make_error(ErrorKind::kInternal, "layer tar digest differs from its diff ID")
                    : std::move(digest).error();
    }
  }
  staged.diff_id = unpacked->diff_id;
  staged.size = unpacked->bytes;
  return staged;
}

void LayerStore::discard(const Staged& staged) {
  std::error_code ec;
  fs::remove_all(staged.dir, ec);
}

Result<LayerInfo> LayerStore::adopt(const Staged& staged,
                                    const std::optional<std::string>& parent) {
  if (parent && !has(*parent)) {
    discard(staged);
    return make_error(ErrorKind::kNotFound, "parent layer " + *parent + " not found");
  }
  const std::string chain =
      parent ? base::sha256_digest(*parent + " " + staged.diff_id) : staged.diff_id;
  if (has(chain)) {
    discard(staged);
    return get(chain);
  }
  nlohmann::json meta = {{"version", 1},
                         {"chain_id", chain},
                         {"diff_id", staged.diff_id},
                         {"parent", parent ? nlohmann::json(*parent) : nlohmann::json(nullptr)},
                         {"size", staged.size}};
  if (auto st = base::write_file_atomic(staged.dir / "meta.json", meta.dump() + "\n", 0600); !st) {
    discard(staged);
    return std::move(st).error();
  }
  if (::rename(staged.dir.c_str(), layer_dir(chain).c_str()) != 0) {
    const int err = errno;
    discard(staged);
    if ((err == ENOTEMPTY || err == EEXIST) && has(chain)) {
      return get(chain);  // registered concurrently by someone else
    }
    return base::sys_error(err, "register layer " + chain);
  }
  DIND_TRY(base::fsync_dir(root_ / "layers"));
  return get(chain);
}

Result<LayerInfo> LayerStore::register_layer(int fd, const std::optional<std::string>& parent,
                                             const std::optional<std::string>& expected_diff_id,
                                             ContentStore* keep_tar) {
  if (parent && !has(*parent)) {
    return make_error(ErrorKind::kNotFound, "parent layer " + *parent + " not found");
  }
  auto staged = stage(fd_reader(fd), keep_tar);
  if (!staged) {
    return std::move(staged).error();
  }
  if (expected_diff_id && staged->diff_id != *expected_diff_id) {
    discard(*staged);
    if (keep_tar) {
      (void)keep_tar->remove(staged->diff_id);
    }
    return make_error(ErrorKind::kInvalidArgument, "layer digest mismatch: the config says " +
                                                       *expected_diff_id + ", the data is " +
                                                       staged->diff_id);
  }
  return adopt(*staged, parent);
}

Result<int> LayerStore::gc(const std::set<std::string>& referenced) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "layers", ec)) {
    const std::string chain = "sha256:" + e.path().filename().string();
    if (!referenced.count(chain)) {
      // Rename first so that a crash midway leaves no half-deleted layer.
      const fs::path doomed = root_ / "tmp" / random_name();
      if (::rename(e.path().c_str(), doomed.c_str()) == 0) {
        fs::remove_all(doomed, ec);
        ++removed;
      }
    }
  }
  return removed;
}

std::vector<fs::path> LayerStore::chain_dirs(const std::optional<std::string>& top_chain_id) const {
  std::vector<fs::path> out;
  for (std::optional<std::string> c = top_chain_id; c && out.size() < 1000;) {
    auto info = get(*c);
    if (!info) {
      break;
    }
    out.push_back(info->diff_dir);
    c = info->parent;
  }
  return out;
}

Result<RootfsPlan> LayerStore::prepare_rootfs(const std::string& id,
                                              const std::optional<std::string>& top_chain_id) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
    return make_error(ErrorKind::kInvalidArgument, "invalid rootfs id \"" + id + "\"");
  }
  RootfsPlan plan;
  const fs::path base = root_ / "mounts" / id;
  const fs::path init = base / "init";
  // The init layer: mount points Docker puts in every container.
  DIND_TRY(make_dir(base, 0700));
  DIND_TRY(make_dir(init, 0755));
  for (const char* d : {"etc", "dev", "dev/pts", "dev/shm", "proc", "sys"}) {
    DIND_TRY(make_dir(init / d, 0755));
  }
  for (const char* f :
       {"etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "dev/console"}) {
    DIND_TRY(touch(init / f, 0755));
  }
  std::error_code ec;
  fs::create_symlink("/proc/mounts", init / "etc/mtab", ec);
  plan.lower.push_back(init);
  for (std::optional<std::string> c = top_chain_id; c;) {
    auto info = get(*c);
    if (!info) {
      return std::move(info).error();
    }
    plan.lower.push_back(info->diff_dir);
    c = info->parent;
  }
  plan.upper = base / "diff";
  plan.work = base / "work";
  plan.merged = base / "merged";
  DIND_TRY(make_dir(plan.upper, 0755));
  DIND_TRY(make_dir(plan.work, 0700));
  DIND_TRY(make_dir(plan.merged, 0755));
  return plan;
}

Status LayerStore::remove_rootfs(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
    return make_error(ErrorKind::kInvalidArgument, "invalid rootfs id \"" + id + "\"");
  }
  std::error_code ec;
  fs::remove_all(root_ / "mounts" / id, ec);
  if (ec) {
    return make_error(base::kind_from_errno(ec.value()),
                      "remove rootfs " + id + ": " + ec.message());
  }
  return {};
}

Status mount_overlay(const RootfsPlan& plan) {
  base::UniqueFd fs_fd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs_fd.valid()) {
    return base::sys_error(errno, "fsopen overlay");
  }
  // "lowerdir+" (Linux 6.8+) adds one layer per call, top-most first, so the
  // one-page limit of the classic lowerdir=a:b:c option never applies.
  bool appended = true;
  for (const auto& l : plan.lower) {
    if (::fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) != 0) {
      appended = false;
      break;
    }
  }
  if (!appended) {
    std::string lower;
    for (const auto& l : plan.lower) {
      lower += (lower.empty() ? "" : ":") + l.string();
    }
    const std::string opts =
        "lowerdir=" + lower + ",upperdir=" + plan.upper.string() + ",workdir=" + plan.work.string();
    if (::mount("overlay", plan.merged.c_str(), "overlay", 0, opts.c_str()) != 0) {
      return base::sys_error(errno, "mount overlay on " + plan.merged.string());
    }
    return {};
  }
  if (::fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, "upperdir", plan.upper.c_str(), 0) != 0 ||
      ::fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, "workdir", plan.work.c_str(), 0) != 0 ||
      ::fsconfig(fs_fd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return base::sys_error(errno, "configure overlay for " + plan.merged.string());
  }
  base::UniqueFd mnt(::fsmount(fs_fd.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt.valid()) {
    return base::sys_error(errno, "fsmount overlay");
  }
  if (::move_mount(mnt.get(), "", AT_FDCWD, plan.merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return base::sys_error(errno, "attach overlay at " + plan.merged.string());
  }
  return {};
}

Status unmount(const fs::path& path) {
  if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) != 0) {
    return base::sys_error(errno, "unmount " + path.string());
  }
  return {};
}

}  // namespace dind::image
