// Reads a recorded document from tests/unit/k8s_fixtures/ (see its README.md).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vipd::k8s::testing {

inline std::string fixture(const std::string& name) {
  std::ifstream file(std::string(VIPD_K8S_FIXTURES) + "/" + name);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

inline std::vector<std::string> fixture_lines(const std::string& name) {
  std::istringstream stream(fixture(name));
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace vipd::k8s::testing
