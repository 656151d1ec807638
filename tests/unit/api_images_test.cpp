#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dind/api/images.hpp"
#include "dind/api/progress.hpp"

using dind::api::apply_changes;
using nlohmann::json;

namespace {
json apply(std::vector<std::string> changes) {
  std::string cfg;
  auto st = apply_changes(changes, cfg);
  REQUIRE(st.ok());
  return json::parse(cfg);
}
}  // namespace

TEST_CASE("import --change instructions", "[api][images]") {
  auto c = apply({"CMD [\"/bin/sh\", \"-c\", \"echo hi\"]", "ENTRYPOINT /init",
                  "ENV A=1 B=\"two words\"", "ENV LEGACY value with spaces", "WORKDIR /app",
                  "USER 1000:1000", "EXPOSE 80 53/udp", "LABEL a=b c=d", "VOLUME [\"/data\"]",
                  "STOPSIGNAL SIGTERM", "env A=3"});
  CHECK(c["Cmd"] == json::array({"/bin/sh", "-c", "echo hi"}));
  CHECK(c["Entrypoint"] == json::array({"/bin/sh", "-c", "/init"}));
  CHECK(c["Env"] == json::array({"A=3", "B=two words", "LEGACY=value with spaces"}));
  CHECK(c["WorkingDir"] == "/app");
  CHECK(c["User"] == "1000:1000");
  CHECK(c["ExposedPorts"].contains("80/tcp"));
  CHECK(c["ExposedPorts"].contains("53/udp"));
  CHECK(c["Labels"]["c"] == "d");
  CHECK(c["Volumes"].contains("/data"));
  CHECK(c["StopSignal"] == "SIGTERM");
  CHECK(apply({}).empty());
}

TEST_CASE("bad --change instructions are refused", "[api][images]") {
  for (const char* bad :
       {"RUN echo hi", "FROM busybox", "CMD", "CMD [\"unterminated\"", "CMD [1, 2]", "ENV =x",
        "LABEL novalue", "WORKDIR", "COPY a b", "nonsense"}) {
    INFO(bad);
    std::string cfg;
    CHECK_FALSE(apply_changes({bad}, cfg).ok());
  }
  std::string cfg;
  auto st = apply_changes({"RUN x"}, cfg);
  CHECK(st.error().message == "RUN is not a valid change command");
}

TEST_CASE("progress lines match Docker's jsonmessage text", "[api][progress]") {
  using dind::api::human_size;
  using dind::api::progress_bar;
  CHECK(human_size(0) == "0B");
  CHECK(human_size(512) == "512B");
  CHECK(human_size(32768) == "32.77kB");
  CHECK(human_size(1996288) == "1.996MB");
  CHECK(human_size(uint64_t{560} * 1000 * 1000) == "560MB");
  // The two bars dockerd 20.10 sent for a 1.996 MB layer (capture 19d).
  CHECK(progress_bar(32768, 1996288) ==
        "[>                                                  ]  32.77kB/1.996MB");
  CHECK(progress_bar(1996288, 1996288) ==
        "[==================================================>]  1.996MB/1.996MB");
  CHECK(progress_bar(5000, 0) == "     5kB");
  const auto doc =
      nlohmann::json::parse(dind::api::progress_message("Loading layer", "3f43d6934766", 1, 2));
  CHECK(doc["status"] == "Loading layer");
  CHECK(doc["id"] == "3f43d6934766");
  CHECK(doc["progressDetail"]["current"] == 1);
  CHECK(doc["progressDetail"]["total"] == 2);
}
