// Errors as values at module edges: a Result<T> holds either a T or an Error that carries errno and a
// one-line message meant for the operator. Fatal user errors are thrown as UserError and caught in main.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace sigdrain {

struct Error {
  int code = 0;         // errno value, 0 when not a system error
  std::string message;  // one line, no trailing newline

  static Error sys(int err, std::string what) {
    return Error{err, fmt::format("{}: {}", what, std::strerror(err))};
  }
  static Error msg(std::string what) { return Error{0, std::move(what)}; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error err) : v_(std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }
  T value_or(T fallback) && { return ok() ? std::get<T>(std::move(v_)) : std::move(fallback); }

  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error err) : err_(std::move(err)), failed_(true) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool failed_ = false;
};

// An error the operator must fix (bad flag, unknown container, missing privilege). main() prints
// "sigdrain: <message>" and exits with `exit_code`.
class UserError : public std::runtime_error {
 public:
  UserError(std::string message, int exit_code = 2) : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Unwraps a result or throws it as a UserError, for the CLI layer.
template <typename T>
T value_or_throw(Result<T> r, int exit_code = 2) {
  if (!r) throw UserError(r.error().message, exit_code);
  return std::move(r).value();
}
inline void ok_or_throw(const Result<void>& r, int exit_code = 2) {
  if (!r) throw UserError(r.error().message, exit_code);
}

}  // namespace sigdrain
