// Included by server_session.cpp only (Beast stays in one translation unit):
// a request body spooled to an unlinked file (raw reads for Content-Length,
// the chunk decoder, a handler reading behind the writes, an abandoned upload).

namespace dind::api {

template <class Stream>
void Session<Stream>::start_spool() {
  spool_fd_ = std::make_shared<base::UniqueFd>(
      ::open(server_.limits.spool_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!spool_fd_->valid()) {
    DIND_LOG(kError) << "cannot spool an upload in " << server_.limits.spool_dir << ": "
                     << std::strerror(errno);
    keep_alive_ = false;
    send(error_response(500, "cannot store the upload: " + std::string(std::strerror(errno))));
    return;
  }
  spool_started_ = std::chrono::steady_clock::now();
  spool_buf_.resize(1024 * 1024);
  spool_target_ = req_.target;
  if (match_.options.stream_body) {
    // The handler starts now, reading behind the writes.
    progress_ = std::make_shared<BodyProgress>();
    req_.body_file =
        std::make_shared<base::UniqueFd>(::fcntl(spool_fd_->get(), F_DUPFD_CLOEXEC, 0));
    req_.body_progress = progress_;
    early_ = true;
    body_done_ = false;
    dispatch();
  }
  if (!header_parser_->chunked()) {
    // Content-Length: copy the raw bytes with large reads; Beast's parser
    // would read 64 KiB at a time with a completion hop for each.
    spool_remaining_ = *header_parser_->content_length();
    header_parser_.reset();
    const size_t have = std::min<uint64_t>(buffer_.size(), spool_remaining_);
    if (!spool_write(static_cast<const char*>(buffer_.data().data()), have)) {
      return;
    }
    buffer_.consume(have);
    spool_remaining_ -= have;
    spool_raw_next();
    return;
  }
  // Chunked: our own decoder over raw reads, for the same reason.
  header_parser_.reset();
  chunks_ = ChunkedDecoder{};
  chunks_.set_limit(match_.options.max_body);
  if (!spool_chunks(static_cast<const char*>(buffer_.data().data()), buffer_.size())) {
    return;
  }
  spool_chunked_next();
}

template <class Stream>
bool Session<Stream>::spool_write(const char* p, size_t left) {
  if (!spool_write_quiet(p, left)) {
    fail(500, "cannot store the upload: " + std::string(std::strerror(errno)));
    return false;
  }
  return true;
}

template <class Stream>
void Session<Stream>::spool_done() {
  ::lseek(spool_fd_->get(), 0, SEEK_SET);
  DIND_LOG(kDebug) << "spooled the upload of " << spool_target_ << " in "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - spool_started_)
                          .count()
                   << " ms";
  if (early_) {
    early_ = false;
    body_done_ = true;
    spool_fd_.reset();
    progress_->finish(true);
    progress_.reset();
    if (early_reply_) {
      auto res = std::move(*early_reply_);
      early_reply_.reset();
      send(std::move(res));
    }
    return;
  }
  req_.body_file = std::move(spool_fd_);
  dispatch();
}

template <class Stream>
template <class OnBytes>
void Session<Stream>::spool_read(size_t want, OnBytes on_bytes) {
  lowest(stream_).expires_after(server_.limits.body_timeout);
  stream_.async_read_some(
      asio::buffer(spool_buf_.data(), want),
      [self = this->shared_from_this(), on_bytes](boost::system::error_code ec, size_t n) {
        if (ec == beast::error::timeout) {
          self->close();
        } else if (ec) {
          self->fail(400, "malformed HTTP request body: " + ec.message());
        } else {
          on_bytes(self.get(), n);
        }
      });
}

template <class Stream>
void Session<Stream>::spool_raw_next() {
  if (spool_remaining_ == 0) {
    spool_done();
    return;
  }
  spool_read(static_cast<size_t>(std::min<uint64_t>(spool_buf_.size(), spool_remaining_)),
             [](Session* s, size_t n) {
               if (s->spool_write(s->spool_buf_.data(), n)) {
                 s->spool_remaining_ -= n;
                 s->spool_raw_next();
               }
             });
}

template <class Stream>
bool Session<Stream>::spool_chunks(const char* data, size_t size) {
  int write_errno = 0;  // the spool's own failure (a full disk) is no client's fault
  const size_t used = chunks_.feed(data, size, [this, &write_errno](const char* p, size_t n) {
    if (!spool_write_quiet(p, n)) {
      write_errno = errno != 0 ? errno : EIO;
      return false;
    }
    return true;
  });
  if (chunks_.state() == ChunkedDecoder::State::kError) {
    if (write_errno != 0) {
      fail(500, "cannot store the upload: " + std::string(std::strerror(write_errno)));
    } else if (chunks_.over_limit()) {
      fail(413, "request body larger than " + std::to_string(match_.options.max_body) + " bytes");
    } else {
      fail(400, "malformed HTTP request body: " + chunks_.error());
    }
    return false;
  }
  if (data == static_cast<const char*>(buffer_.data().data())) {
    buffer_.consume(used);
  } else if (used < size) {
    // Bytes of a pipelined next request: keep them.
    auto dst = buffer_.prepare(size - used);
    std::memcpy(dst.data(), data + used, size - used);
    buffer_.commit(size - used);
  }
  return true;
}

template <class Stream>
bool Session<Stream>::spool_write_quiet(const char* p, size_t left) {
  while (left > 0) {
    ssize_t n = ::write(spool_fd_->get(), p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n == 0) {
        errno = EIO;
      }
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
    if (progress_) {
      progress_->advance(static_cast<uint64_t>(n));
    }
  }
  return true;
}

template <class Stream>
void Session<Stream>::spool_chunked_next() {
  if (chunks_.done()) {
    spool_done();
    return;
  }
  spool_read(spool_buf_.size(), [](Session* s, size_t n) {
    if (s->spool_chunks(s->spool_buf_.data(), n)) {
      s->spool_chunked_next();
    }
  });
}

template <class Stream>
void Session<Stream>::abandon_upload() {
  if (progress_) {
    progress_->finish(false);
    progress_.reset();
  }
  early_ = false;
  body_done_ = true;
  early_reply_.reset();
}

}  // namespace dind::api
