#pragma once
// Internal to build/: COPY and ADD. Sources are resolved below a source root
// (the context, or another stage's or image's root file system for --from)
// with openat2(RESOLVE_IN_ROOT), so "../x" and symlinks pointing out stay
// inside it; destinations are resolved the same way below the step's root
// file system. .dockerignore'd context paths do not exist for COPY.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/build/dockerignore.hpp"

namespace dind::build {

struct CopySource {
  std::string rel;      // path below the source root ("" = the root itself)
  bool dir = false;
  const Heredoc* heredoc = nullptr;  // COPY <<EOF: the content, named heredoc->name
  std::string content;               // the heredoc's (expanded) text
};

struct SourceRoot {
  int fd = -1;                            // O_PATH directory
  const IgnoreMatcher* ignore = nullptr;  // the context's; null for --from
};

// The sources a COPY/ADD names (globs expanded, sorted), or Docker's errors:
// "COPY failed: file not found in build context or excluded by
// .dockerignore: stat x: file does not exist", "no source files were
// specified".
base::Result<std::vector<CopySource>> resolve_sources(const SourceRoot& root,
                                                      const std::vector<std::string>& patterns,
                                                      const std::string& what);

// The content checksum dockerd's cache compares: "file:<hex>" for one file,
// "dir:<hex>" for one directory, "multi:<hex>" for several; covers names,
// types, modes, link targets and contents (not mtimes).
base::Result<std::string> sources_checksum(const SourceRoot& root,
                                           const std::vector<CopySource>& sources);

struct CopyOptions {
  std::string dest;        // absolute in the destination root (WORKDIR applied)
  bool dest_is_dir = false;  // the instruction's dest ended with '/' (or several sources)
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> chmod;
  bool extract_archives = false;  // ADD: local tar archives are unpacked
};

// Copies the sources into the destination root (an O_PATH directory of a
// mounted root file system).
base::Status copy_sources(const SourceRoot& root, const std::vector<CopySource>& sources,
                          int dest_root, const CopyOptions& options);

// mkdir -p of an absolute path below the root (WORKDIR), owned by uid:gid.
base::Status make_dirs_in_root(int root, const std::string& path, uid_t uid, gid_t gid);

}  // namespace dind::build
