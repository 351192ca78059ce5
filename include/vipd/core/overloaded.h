// Overloaded{lambdas...}: one visitor for std::visit from several lambdas, one per alternative.
#pragma once

namespace vipd::core {

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
// Clang 14 does not deduce aggregate template arguments by itself (P1816).
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace vipd::core
