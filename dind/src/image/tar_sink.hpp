#pragma once
// A libarchive writer whose bytes go to a sink (internal to image/): the
// tar writers of docker save (archive_io.cpp) and of layers, commit, cp and
// export (layer_diff.cpp) share it.
//
// Three rules it keeps: the archive is freed before the state its callback
// writes into (archive_write_free of an unfinished archive writes the
// trailer, calling back); a sink that failed once is not called again (the
// client went away: the rest of the archive has nowhere to go); and an
// archive abandoned before close() sends nothing more (no padding of the
// entry that failed, no trailer: the reader must not take it as whole).

#include <archive.h>

#include <functional>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::image {

class TarSinkWriter {
 public:
  using Sink = std::function<base::Status(std::string_view)>;

  // `sink` must outlive the writer.
  explicit TarSinkWriter(const Sink& sink);
  TarSinkWriter(Sink&&) = delete;  // it keeps a pointer to the sink
  ~TarSinkWriter();
  TarSinkWriter(const TarSinkWriter&) = delete;
  TarSinkWriter& operator=(const TarSinkWriter&) = delete;

  // For the format options; call open() once they are set.
  archive* get() const { return a_; }
  void open();
  // Writes the trailer and flushes. `what` names the step in the error.
  base::Status close(const std::string& what);
  // After a failed libarchive call: the sink's own error when it failed,
  // else libarchive's, prefixed with `what`.
  base::Status failure(const std::string& what) const;

 private:
  static la_ssize_t write_cb(archive* a, void* client, const void* buf, size_t n);

  const Sink* sink_;
  base::Status status_;  // the sink's first failure (or "abandoned")
  bool closed_ = false;
  archive* a_;           // freed first (the destructor), while status_ lives
};

}  // namespace dind::image
