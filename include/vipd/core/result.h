// Failures as values, one vocabulary for every room: a one-line message that says what failed and
// why. Nothing in the agent throws across a room's API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vipd::core {

struct Error {
  std::string message;  // one line: what failed and why, e.g. "bpf_object__load failed: ..."
};

// "<what>: <strerror(err)>", the one way the agent words a failed system call.
Error errno_error(std::string_view what, int err);
// strerror(err) without the context, for messages built elsewhere; -errno is accepted too.
std::string errno_text(int err);

class Status {
 public:
  Status() = default;
  Status(Error error) : message_(std::move(error.message)), failed_(true) {}  // NOLINT: implicit

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  // Empty when ok().
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  bool failed_ = false;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit, like std::expected
  Result(Error error) : value_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Empty when ok().
  std::string message() const { return ok() ? std::string() : std::get<Error>(value_).message; }
  Status status() const { return ok() ? Status() : Status(std::get<Error>(value_)); }

 private:
  std::variant<T, Error> value_;
};

}  // namespace vipd::core
