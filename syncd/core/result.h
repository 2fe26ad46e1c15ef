// Result<T, E>: a value or an error, for code that reports failures without exceptions.
// std::expected is C++23; this is the small part of it we need under C++20.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <variant>

namespace gwsync::syncd {

// The value of a Result that carries no value, only success or an error.
struct Ok {};

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<E> fail(E error) {
  return Unexpected<E>{std::move(error)};
}

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    if (ok()) die("error() of a Result that holds a value");
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  // Reading the wrong alternative is a programming error, never a matter of input: abort.
  void check() const {
    if (!ok()) die("value() of a Result that holds an error");
  }
  [[noreturn]] static void die(const char* what) {
    std::fputs(what, stderr);
    std::fputc('\n', stderr);
    std::abort();
  }
  std::variant<T, E> v_;
};

}  // namespace gwsync::syncd
