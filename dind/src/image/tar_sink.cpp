#include "tar_sink.hpp"

#include <cerrno>

namespace dind::image {

TarSinkWriter::TarSinkWriter(const Sink& sink) : sink_(&sink), a_(archive_write_new()) {}

TarSinkWriter::~TarSinkWriter() {
  if (!closed_ && status_) {
    status_ = base::make_error(base::ErrorKind::kInternal, "the archive was abandoned");
  }
  archive_write_free(a_);
}

void TarSinkWriter::open() { archive_write_open(a_, this, nullptr, write_cb, nullptr); }

base::Status TarSinkWriter::close(const std::string& what) {
  closed_ = true;
  if (archive_write_close(a_) != ARCHIVE_OK) {
    return failure(what);
  }
  return {};
}

base::Status TarSinkWriter::failure(const std::string& what) const {
  if (!status_) {
    return status_;
  }
  const char* msg = archive_error_string(a_);
  return base::make_error(base::ErrorKind::kInternal,
                          what + ": " + (msg ? msg : "libarchive error"));
}

la_ssize_t TarSinkWriter::write_cb(archive* a, void* client, const void* buf, size_t n) {
  auto* self = static_cast<TarSinkWriter*>(client);
  if (self->status_) {
    self->status_ = (*self->sink_)(std::string_view(static_cast<const char*>(buf), n));
  }
  if (!self->status_) {
    archive_set_error(a, EIO, "%s", self->status_.error().message.c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

}  // namespace dind::image
