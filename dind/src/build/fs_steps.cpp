// The steps that write files: WORKDIR (its directory) and COPY/ADD, each
// into a scratch root file system of the current image whose upper
// directory becomes the step's layer.

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>

#include "build_internal.hpp"
#include "copy.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

}  // namespace

ScratchRoot::~ScratchRoot() {
  (void)close();
  if (prepared_) {
    (void)layers_.remove_rootfs(id_);
  }
}

Status ScratchRoot::open(const std::optional<std::string>& top_layer) {
  id_ = scratch_id();
  auto plan = layers_.prepare_rootfs(id_, top_layer);
  if (!plan) {
    return std::move(plan).error();
  }
  plan_ = *plan;
  prepared_ = true;
  DIND_TRY(image::mount_overlay(plan_));
  mounted_ = true;
  fd_ = UniqueFd(::open(plan_.merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd_.valid()) {
    return base::sys_error(errno, "open the root file system");
  }
  return {};
}

Status ScratchRoot::close() {
  fd_.reset();
  if (!mounted_) {
    return {};
  }
  mounted_ = false;
  if (auto st = image::unmount(plan_.merged); !st) {
    // Never remove the directories of a tree still mounted: detach it.
    if (::umount2(plan_.merged.c_str(), MNT_DETACH) != 0) {
      prepared_ = false;
      return st;
    }
  }
  return {};
}

Status Build::workdir_step(const Instruction& ins, StageState& s) {
  auto comment = apply_metadata(ins, s, dockerfile_.escape, maintainer_);
  if (!comment) {
    return std::move(comment).error();
  }
  const model::Config probe = nop_probe(s, *comment, false);
  if (auto hit = probe_cache(s, probe)) {
    return use_cached(s, *hit);
  }
  auto made = nop_container(s, probe);
  if (!made) {
    return std::move(made).error();
  }
  const std::string container = *made;
  // The directory, made in a scratch root file system of the image.
  Status st;
  {
    ScratchRoot root(*deps_.layers);
    auto top = s.image_id.empty() ? Result<image::ImageSummary>(image::ImageSummary{})
                                  : deps_.images->get(s.image_id);
    st = top ? root.open(top->top_layer) : Status(std::move(top).error());
    if (st) {
      st = make_dirs_in_root(root.fd(), s.config.working_dir, 0, 0);
    }
    if (st) {
      st = root.close();
    }
    if (st) {
      st = commit(s, StepCommit{probe, container, join_words(*probe.cmd), root.upper().string()});
    }
  }
  if (!container.empty()) {
    remove_step_container(container, !st.ok());
  }
  return st;
}

Status Build::copy_step(const Instruction& ins, StageState& s) {
  const std::string what = upper(ins.command);
  const Lookup env = expansion_env(s);
  std::vector<std::string> words;
  for (const auto& a : ins.args) {
    if (ins.json) {
      auto v = expand_word(a, env, dockerfile_.escape);
      if (!v) {
        return std::move(v).error();
      }
      words.push_back(*v);
    } else {
      auto v = expand_words(a, env, dockerfile_.escape);
      if (!v) {
        return std::move(v).error();
      }
      words.insert(words.end(), v->begin(), v->end());
    }
  }
  // Heredoc names among the words are sources made of the heredoc's text.
  std::vector<CopySource> heredocs;
  std::vector<std::string> patterns;
  if (words.empty()) {
    return make_error(ErrorKind::kInvalidArgument, what + " requires at least two arguments");
  }
  const std::string dest_word = words.back();
  words.pop_back();
  for (const auto& w : words) {
    const Heredoc* h = nullptr;
    for (const auto& hd : ins.heredocs) {
      if (w.rfind("<<", 0) == 0 && w.find(hd.name) != std::string::npos) {
        h = &hd;
      }
    }
    if (h != nullptr) {
      CopySource src;
      src.heredoc = h;
      src.content = h->content;
      if (h->expand) {
        auto v = expand_word(h->content, env, dockerfile_.escape);
        if (v) {
          src.content = *v;
        }
      }
      heredocs.push_back(std::move(src));
    } else {
      patterns.push_back(w);
    }
  }
  if (patterns.empty() && heredocs.empty()) {
    return make_error(ErrorKind::kInvalidArgument, what + " requires at least two arguments");
  }
  // The source root: the context, or a stage's or image's file system.
  SourceRoot source{context_fd_.get(), &ignore_};
  ScratchRoot from_root(*deps_.layers);
  if (const std::string* from = ins.flag("from")) {
    std::string image_id;
    if (auto st = stage_images_.find(lower(*from)); st != stage_images_.end()) {
      image_id = st->second;
    } else {
      auto got = image_for(*from);
      if (!got) {
        return std::move(got).error();
      }
      image_id = *got;
    }
    auto summary = deps_.images->get(image_id);
    if (!summary) {
      return std::move(summary).error();
    }
    DIND_TRY(from_root.open(summary->top_layer));
    source = SourceRoot{from_root.fd(), nullptr};
  }
  auto sources = patterns.empty() ? Result<std::vector<CopySource>>(std::vector<CopySource>{})
                                  : resolve_sources(source, patterns, what);
  if (!sources) {
    return std::move(sources).error();
  }
  for (auto& h : heredocs) {
    sources->push_back(std::move(h));
  }
  if (sources->size() > 1 && dest_word.back() != '/') {
    return make_error(ErrorKind::kInvalidArgument,
                      "When using " + what +
                          " with more than one source file, the destination must be a directory "
                          "and end with a /");
  }
  auto sum = sources_checksum(source, *sources);
  if (!sum) {
    return std::move(sum).error();
  }
  // dockerd writes the --chown value straight before the hash, no space.
  const std::string* chown_flag = ins.flag("chown");
  const model::Config probe = nop_probe(
      s,
      what + " " + (chown_flag ? "--chown=" + *chown_flag : std::string()) + *sum + " in " +
          dest_word + " ",
      false);
  if (auto hit = probe_cache(s, probe)) {
    return use_cached(s, *hit);
  }
  CopyOptions o;
  std::string dest = dest_word;
  if (dest.empty() || dest[0] != '/') {
    dest = (s.config.working_dir.empty() ? std::string("/") : s.config.working_dir + "/") + dest;
  }
  o.dest_is_dir = dest.back() == '/';
  o.dest = join_workdir("/", dest);
  o.extract_archives = ins.command == "add";
  if (const std::string* mode = ins.flag("chmod")) {
    char* end = nullptr;
    const long m = std::strtol(mode->c_str(), &end, 8);
    if (mode->empty() || *end != '\0' || m < 0 || m > 07777) {
      return make_error(ErrorKind::kInvalidArgument, "invalid chmod parameter: " + *mode);
    }
    o.chmod = static_cast<mode_t>(m);
  }
  auto top = s.image_id.empty() ? Result<image::ImageSummary>(image::ImageSummary{})
                                : deps_.images->get(s.image_id);
  if (!top) {
    return std::move(top).error();
  }
  ScratchRoot root(*deps_.layers);
  DIND_TRY(root.open(top->top_layer));
  if (const std::string* chown = ins.flag("chown")) {
    auto read_in_root = [&](const char* path) {
      UniqueFd f(base::open_in_root(root.fd(), path, O_RDONLY));
      std::string text;
      char buf[65536];
      ssize_t n;
      while (f.valid() && (n = ::read(f.get(), buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<size_t>(n));
      }
      return text;
    };
    const std::string spec = chown->find(':') == std::string::npos ? *chown + ":" + *chown : *chown;
    auto user = runtime::resolve_user(spec, read_in_root("/etc/passwd"), read_in_root("/etc/group"));
    if (!user) {
      return make_error(ErrorKind::kInvalidArgument,
                        "unable to convert uid/gid chown string to host mapping: " +
                            user.error().message);
    }
    o.uid = user->uid;
    o.gid = user->gid;
  }
  DIND_TRY(copy_sources(source, *sources, root.fd(), o));
  DIND_TRY(root.close());
  DIND_TRY(from_root.close());
  return commit(s, StepCommit{probe, "", join_words(*probe.cmd), root.upper().string()});
}

}  // namespace dind::build
