// The API server in-process on a unix socket: hijack, streamed bodies, body
// limits, stale/live sockets, graceful stop.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "dind/api/errors.hpp"
#include "dind/api/server.hpp"
#include "dind/base/stdcopy.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"
#include "raw_client.hpp"

using namespace dind::api;
using namespace dind::base;
using testsupport::RawClient;
using namespace std::chrono_literals;

namespace {

// Echoes every chunk back as a stdout frame; on the client's EOF it closes
// its side, like an attach whose process exits when stdin ends.
void echo_loop(std::shared_ptr<RawStream> raw) {
  raw->read([raw](std::string_view data, bool ok) {
    if (!ok) {
      raw->close();
      return;
    }
    if (data.empty()) {
      raw->write(stdcopy_frame(StdStream::kStderr, "bye\n"));
      raw->shutdown_write();
      return;
    }
    raw->write(stdcopy_frame(StdStream::kStdout, data));
    echo_loop(raw);
  });
}

struct TestServer {
  dind::base::TempDir tmp{"dind-api"};
  Router router;
  std::unique_ptr<Server> server;
  std::thread runner;
  std::string socket;

  explicit TestServer(ServerLimits limits = {}) {
    router.add("GET", "/_ping", [](Request, Reply reply) { reply(Response::text(200, "OK")); });
    router.add("POST", "/echo", [](Request, Reply reply) {
      Response r;
      r.headers["Content-Type"] = kMultiplexedContentType;
      r.hijack = echo_loop;
      reply(std::move(r));
    });
    router.add("GET", "/stream", [](Request, Reply reply) {
      Response r;
      r.headers["Content-Type"] = "application/json";
      r.stream = [](std::shared_ptr<BodyWriter> w) {
        w->write("{\"a\":1}\n");
        w->write("{\"b\":2}\n");
        w->finish();
      };
      reply(std::move(r));
    });
    router.add("GET", "/slow", [this](Request, Reply reply) {
      server->after(300ms, [reply] { reply(Response::text(200, "late")); });
    });
    router.add(
        "POST", "/body",
        [](Request req, Reply reply) {
          reply(Response::text(200, std::to_string(req.body.size())));
        },
        RouteOptions{16});
    router.add("GET", "/throws", [](Request, Reply) -> void { throw std::runtime_error("boom"); });
    // An upload route: the body arrives as an unlinked file.
    router.add(
        "POST", "/upload",
        [](Request req, Reply reply) {
          if (!req.body_file) {
            reply(Response::text(200, "no file"));
            return;
          }
          dind::base::Sha256 h;
          uint64_t size = 0;
          char buf[65536];
          ssize_t n;
          while ((n = ::read(req.body_file->get(), buf, sizeof(buf))) > 0) {
            h.update(std::string_view(buf, static_cast<size_t>(n)));
            size += static_cast<uint64_t>(n);
          }
          reply(Response::text(200, std::to_string(size) + " " + h.digest()));
        },
        RouteOptions{8u << 20, true});
    server = std::make_unique<Server>(router, Headers{{"Api-Version", "1.44"}}, limits);
    socket = (tmp.path() / "d.sock").string();
    auto bound = server->listen(Listener{Listener::Kind::kUnix, socket});
    REQUIRE(bound.ok());
    runner = std::thread([this] { server->run(2, false); });
  }
  ~TestServer() {
    server->stop();
    runner.join();
  }
};

std::string roundtrip(const std::string& socket, const std::string& request) {
  RawClient c(socket);
  REQUIRE(c.connected());
  c.send(request);
  return c.read_all(3000ms);
}

}  // namespace

TEST_CASE("the unix socket is 0660 and answers with common headers", "[api][server]") {
  TestServer t;
  struct stat st {};
  REQUIRE(::stat(t.socket.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  auto out = roundtrip(t.socket, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  INFO(out);
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("Api-Version: 1.44\r\n") != std::string::npos);
  CHECK(out.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(out.substr(out.size() - 2) == "OK");
}

TEST_CASE("keep-alive serves several requests on one connection", "[api][server]") {
  TestServer t;
  RawClient c(t.socket);
  c.send("GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
  auto out = c.read_until("OKHTTP/1.1 200 OK", 2000ms);
  out = c.read_all(300ms);
  CHECK_FALSE(c.peer_closed());
  size_t count = 0;
  for (size_t p = out.find("HTTP/1.1 200"); p != std::string::npos;
       p = out.find("HTTP/1.1 200", p + 1)) {
    ++count;
  }
  CHECK(count == 2);
  CHECK(t.server->requests_handled() == 2);
}

TEST_CASE("hijack with Upgrade: tcp answers 101 and becomes a raw stream",
          "[api][server][hijack]") {
  TestServer t;
  RawClient c(t.socket);
  // Stdin bytes right behind the headers must not be lost.
  c.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
      "Content-Type: text/plain\r\n\r\nhello");
  auto head = c.read_until(std::string("\x01\x00\x00\x00\x00\x00\x00\x05hello", 13));
  CHECK(head.rfind("HTTP/1.1 101 UPGRADED\r\n", 0) == 0);
  CHECK(head.find("Connection: Upgrade\r\n") != std::string::npos);
  CHECK(head.find("Upgrade: tcp\r\n") != std::string::npos);
  CHECK(head.find("Content-Type: application/vnd.docker.multiplexed-stream\r\n") !=
        std::string::npos);
  c.send("again");
  c.shutdown_write();  // a half-close is EOF on stdin, not a detach
  auto all = c.read_all();
  CHECK(c.peer_closed());
  auto body = all.substr(all.find("\r\n\r\n") + 4);
  StdcopyDecoder d;
  std::vector<StdcopyDecoder::Frame> frames;
  REQUIRE(d.feed(body, frames));
  REQUIRE(frames.size() >= 3);
  std::string out;
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    CHECK(frames[i].stream == StdStream::kStdout);
    out += frames[i].payload;
  }
  CHECK(out == "helloagain");
  CHECK(frames.back().stream == StdStream::kStderr);
  CHECK(frames.back().payload == "bye\n");
}

TEST_CASE("hijack without Upgrade answers 200 and streams until close", "[api][server][hijack]") {
  TestServer t;
  RawClient c(t.socket);
  c.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
      "0\r\n\r\n");
  c.send("ping");
  c.shutdown_write();
  auto all = c.read_all();
  CHECK(all.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(all.find("Content-Length") == std::string::npos);
  CHECK(all.find(std::string("\x01\x00\x00\x00\x00\x00\x00\x04ping", 12)) != std::string::npos);
  CHECK(c.peer_closed());
}

TEST_CASE("streamed bodies are chunked", "[api][server]") {
  TestServer t;
  auto out = roundtrip(t.socket, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(out.find("\r\n\r\n8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n0\r\n\r\n") != std::string::npos);
}

TEST_CASE("per-route body limits", "[api][server]") {
  TestServer t;
  CHECK(
      roundtrip(t.socket,
                "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
                "0123456789abcdef")
          .find("\r\n\r\n16") != std::string::npos);
  auto big = roundtrip(
      t.socket, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n0123456789abcdefg");
  CHECK(big.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(big.find("application/json") != std::string::npos);
  auto chunked = roundtrip(t.socket,
                           "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "11\r\n0123456789abcdefg\r\n0\r\n\r\n");
  CHECK(chunked.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(t.server->requests_handled() == 1);
}

TEST_CASE("Expect: 100-continue gets an interim response", "[api][server]") {
  TestServer t;
  RawClient c(t.socket);
  c.send("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  CHECK(c.read_until("100 Continue\r\n\r\n", 2000ms).rfind("HTTP/1.1 100 Continue", 0) == 0);
  c.send("abc");
  CHECK(c.read_until("\r\n\r\n3", 2000ms).find("HTTP/1.1 200 OK") != std::string::npos);
}

TEST_CASE("a throwing handler is a 500 and the server keeps serving", "[api][server]") {
  TestServer t;
  auto out = roundtrip(t.socket, "GET /throws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 500 ", 0) == 0);
  CHECK(out.find("boom") != std::string::npos);
  CHECK(roundtrip(t.socket, "GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n")
            .rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("slow headers are cut off at the deadline", "[api][server]") {
  ServerLimits limits;
  limits.header_timeout = 300ms;
  TestServer t(limits);
  RawClient c(t.socket);
  c.send("GET /_ping HTTP/1.1\r\nHo");
  auto out = c.read_all(3000ms);
  CHECK(c.peer_closed());
  CHECK(out.empty());
  CHECK(t.server->requests_handled() == 0);
}

TEST_CASE("stop lets an in-flight request finish, then returns", "[api][server]") {
  auto t = std::make_unique<TestServer>();
  RawClient c(t->socket);
  c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(50ms);
  t->server->stop();
  auto out = c.read_all(3000ms);
  CHECK(out.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(out.find("Connection: close") != std::string::npos);
  CHECK(out.substr(out.size() - 4) == "late");
  const std::string path = t->socket;
  t.reset();  // joins run()
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a stale socket is replaced, a live one refused", "[api][server]") {
  dind::base::TempDir tmp;
  const std::string path = (tmp.path() / "s.sock").string();
  {  // a socket file nobody listens on: what a crashed daemon leaves
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);
  }
  Router router;
  Server first(router, {});
  REQUIRE(first.listen(Listener{Listener::Kind::kUnix, path}).ok());
  Server second(router, {});
  auto live = second.listen(Listener{Listener::Kind::kUnix, path});
  REQUIRE_FALSE(live.ok());
  CHECK(live.error().message.find("another daemon") != std::string::npos);

  testsupport::RawClient probe(path);  // still the first server's socket
  CHECK(probe.connected());

  const std::string file = (tmp.path() / "plain").string();
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  CHECK_FALSE(second.listen(Listener{Listener::Kind::kUnix, file}).ok());

  Listener tcp;
  tcp.kind = Listener::Kind::kTcp;
  tcp.host = "127.0.0.1";
  CHECK_FALSE(second.listen(tcp).ok());  // neither TLS nor an explicit opt-in
}

TEST_CASE("upload routes spool the body to a file, whatever the framing", "[api][server]") {
  TestServer t;
  std::string body(3u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>(i * 7 % 251);
  }
  const std::string want = std::to_string(body.size()) + " " + dind::base::sha256_digest(body);
  auto plain = roundtrip(
      t.socket, "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(plain.substr(plain.find("\r\n\r\n") + 4) == want);

  std::string chunked =
      "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 100000) {
    const std::string part = body.substr(off, 100000);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx\r\n", part.size());
    chunked += size + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  auto out = roundtrip(t.socket, chunked);
  CHECK(out.substr(out.find("\r\n\r\n") + 4) == want);

  auto big =
      roundtrip(t.socket, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\nabc");
  CHECK(big.rfind("HTTP/1.1 413 ", 0) == 0);
  std::string over_chunks =
      "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) {
    over_chunks += "100000\r\n" + std::string(0x100000, 'x') + "\r\n";
  }
  CHECK(roundtrip(t.socket, over_chunks).rfind("HTTP/1.1 413 ", 0) == 0);
  auto empty = roundtrip(
      t.socket,
      "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  CHECK(empty.substr(empty.find("\r\n\r\n") + 4) == "no file");
}
