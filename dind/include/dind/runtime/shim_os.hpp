#pragma once
// The shim's system plumbing: the runtime as a child process, unix sockets,
// the pty master runc sends. Internal to the shim (src/runtime).

#include <sys/types.h>

#include <string>
#include <vector>

#include "dind/base/fs.hpp"

namespace dind::runtime::shim_os {

void set_nonblock(int fd);

// Runs `<runtime> --root <root> --log <log> --log-format json <args...>` with
// the given stdio and waits for it; returns the wait status (-1: no fork).
int run_runtime(const std::string& runtime, const std::string& root, const std::string& log,
                const std::vector<std::string>& args, int in, int out, int err);

// The last error the runtime wrote to its JSON log, or `fallback`.
std::string runtime_error(const std::string& log, const std::string& fallback);

// A listening unix socket (mode 0600, non-blocking), or an invalid fd (errno set).
base::UniqueFd listen_unix(const std::string& path);

// Accepts runc's connection on a console socket and takes the pty master it
// sends (SCM_RIGHTS); runc has sent it by the time its create/exec returns.
base::UniqueFd receive_master(int listen_fd);

// One descriptor over a connected unix socket (SCM_RIGHTS, one byte of data).
bool send_fd(int sock, int fd);
// The descriptor the peer sent (close-on-exec), or an invalid fd.
base::UniqueFd receive_fd(int sock);

}  // namespace dind::runtime::shim_os
