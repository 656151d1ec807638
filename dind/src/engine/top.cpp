#include "top.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "dind/base/fs.hpp"

namespace dind::engine {

using base::ErrorKind;
using base::make_error;
using nlohmann::json;

namespace {

std::vector<std::string> fields_ascii(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f') {
      if (!cur.empty()) {
        out.push_back(std::move(cur));
        cur.clear();
      }
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) {
    out.push_back(std::move(cur));
  }
  return out;
}

}  // namespace

base::Result<std::vector<std::string>> ps_argv(const std::string& ps_args) {
  // As dockerd's validatePSArgs: `-o x=PID...` would rename the PID column.
  static const std::regex renamed(R"(\s+([^\s]*)=\s*(PID[^\s]*))");
  for (std::sregex_iterator it(ps_args.begin(), ps_args.end(), renamed), end; it != end; ++it) {
    if ((*it)[1].str() != "pid") {
      return make_error(ErrorKind::kInvalidArgument,
                        "specifying \"" + (*it)[1].str() + "=" + (*it)[2].str() + "\" is not allowed");
    }
  }
  std::vector<std::string> argv = {"ps"};
  auto args = fields_ascii(ps_args);
  if (args.empty()) {
    args = {"-ef"};
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

base::Result<TopResult> parse_ps(const std::string& output, const std::set<int>& pids) {
  std::istringstream in(output);
  std::string header;
  std::getline(in, header);
  const std::vector<std::string> titles = fields_ascii(header);
  const auto pid_col = static_cast<size_t>(std::find(titles.begin(), titles.end(), "PID") - titles.begin());
  if (pid_col >= titles.size()) {
    return make_error(ErrorKind::kInternal, "Couldn't find PID field in ps output");
  }
  TopResult result;
  result.titles = titles;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> row;
    size_t pos = 0;
    for (size_t i = 0; i + 1 < titles.size(); ++i) {
      const size_t b = line.find_first_not_of(' ', pos);
      if (b == std::string::npos) {
        break;
      }
      const size_t e = std::min(line.find(' ', b), line.size());
      row.push_back(line.substr(b, e - b));
      pos = e;
    }
    const size_t rest = line.find_first_not_of(' ', pos);
    row.push_back(rest == std::string::npos ? "" : line.substr(rest));
    if (row.size() != titles.size() || row[pid_col].empty() ||
        !std::all_of(row[pid_col].begin(), row[pid_col].end(), ::isdigit)) {
      continue;
    }
    if (pids.count(std::stoi(row[pid_col])) != 0) {
      result.processes.push_back(std::move(row));
    }
  }
  return result;
}

std::set<int> process_tree(int init) {
  std::map<int, int> parent;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit)) {
      continue;
    }
    auto stat = base::read_file(e.path() / "stat", 4096);
    if (!stat) {
      continue;
    }
    const size_t close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size()) {
      continue;
    }
    std::istringstream in(stat->substr(close + 2));
    std::string state;
    int ppid = 0;
    in >> state >> ppid;
    parent[std::stoi(n)] = ppid;
  }
  std::set<int> pids = {init};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [p, pp] : parent) {
      if (pids.count(pp) != 0 && pids.insert(p).second) {
        grew = true;
      }
    }
  }
  return pids;
}

}  // namespace dind::engine
