// Splitting configuration lists: ipfailover accepts commas and whitespace between entries.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace vipd::config {

enum class Separators { CommasAndWhitespace, Whitespace };

inline std::vector<std::string> split_list(
    std::string_view text, Separators separators = Separators::CommasAndWhitespace) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool separator = i == text.size() ||
                           std::isspace(static_cast<unsigned char>(text[i])) != 0 ||
                           (separators == Separators::CommasAndWhitespace && text[i] == ',');
    if (!separator) continue;
    if (i > start) tokens.emplace_back(text.substr(start, i - start));
    start = i + 1;
  }
  return tokens;
}

}  // namespace vipd::config
