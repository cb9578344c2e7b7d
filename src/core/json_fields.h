// A schema (`fields(F&, S&)`, core/schema.h) run against a JSON object: JsonFieldReader reads
// each named key through JsonReader (file and key named on error; keys the schema does not name
// are left to the caller, since files such as config.json carry other tools' keys), and
// JsonFieldWriter emits them.
#pragma once

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/json_reader.h"
#include "core/schema.h"

namespace infini {

class JsonFieldReader {
 public:
  explicit JsonFieldReader(JsonReader reader) : r_(std::move(reader)) {}

  void operator()(const char* key, int64_t& value, Limits limits = {}) {
    if (!present(key, limits, "a whole number")) return;
    constexpr auto kLow = std::numeric_limits<int64_t>::min(), kHigh = std::numeric_limits<int64_t>::max();
    value = r_.integer(key, limits.min ? static_cast<int64_t>(std::ceil(*limits.min)) : kLow,
                       limits.max ? static_cast<int64_t>(std::floor(*limits.max)) : kHigh);
  }
  void operator()(const char* key, double& value, Limits limits = {}) {
    if (!present(key, limits, "a number")) return;
    const double read = r_.number(key);
    if ((limits.min && read < *limits.min) || (limits.max && read > *limits.max)) {
      r_.fail(key, "a number" + range_text(limits));
    }
    value = read;
  }
  void operator()(const char* key, std::optional<double>& value, Limits limits = {}) {
    if (!r_.has(key)) return;
    double read = 0.0;
    (*this)(key, read, limits);
    value = read;
  }
  void operator()(const char* key, uint64_t& value, Limits limits = {}) {
    if (present(key, limits, "a whole number")) {
      value = static_cast<uint64_t>(r_.integer(key, 0, std::numeric_limits<int64_t>::max()));
    }
  }
  void operator()(const char* key, bool& value, Limits limits = {}) {
    if (present(key, limits, "true or false")) value = r_.boolean_or(key, value);
  }
  void operator()(const char* key, std::vector<int64_t>& value, Limits limits = {}) {
    if (present(key, limits, "a list of whole numbers")) value = r_.integers(key);
  }
  void operator()(const char* key, std::vector<double>& value, Limits limits = {}) {
    if (!present(key, limits, "a list of numbers")) return;
    value.clear();
    for (const auto& item : list(key, "a list of numbers")) {
      if (!item.is_number() || !std::isfinite(item.get<double>())) r_.fail(key, "a list of numbers");
      value.push_back(item.get<double>());
    }
  }
  void operator()(const char* key, std::vector<bool>& value, Limits limits = {}) {
    if (!present(key, limits, "a list of true/false")) return;
    value.clear();
    for (const auto& item : list(key, "a list of true/false")) {
      if (!item.is_boolean()) r_.fail(key, "a list of true/false");
      value.push_back(item.get<bool>());
    }
  }
  // Any JSON value, kept as it is.
  void operator()(const char* key, nlohmann::json& value, Limits limits = {}) {
    if (present(key, limits, "a value")) value = r_.at(key);
  }
  void operator()(const char* key, std::string& value, Limits limits = {}) {
    if (present(key, limits, "a string")) value = r_.text(key);
  }
  template <class E>
  void choice(const char* key, E& value, const Choices<E>& choices, Limits limits = {}) {
    if (!present(key, limits, "one of " + choice_names(choices))) return;
    value = pick(key, r_.text(key), choices);
  }
  template <class E>
  void choice_list(const char* key, std::vector<E>& value, const Choices<E>& choices, Limits limits = {}) {
    if (!present(key, limits, "a list of " + choice_names(choices))) return;
    value.clear();
    for (const auto& name : r_.texts_or(key)) value.push_back(pick(key, name, choices));
  }
  template <class T, class Parse, class Print>
  void parsed(const char* key, T& value, Parse parse, Print, Limits limits = {}) {
    if (present(key, limits, "a string")) value = parse(r_.text(key));
  }
  template <class S>
  void section(const char* key, S& s, Limits limits = {}) {
    if (!present(key, limits, "an object")) return;
    JsonFieldReader inner(r_.object(key));
    fields(inner, s);
  }
  // A list of objects, each read by its own schema.
  template <class S>
  void list(const char* key, std::vector<S>& value, Limits limits = {}) {
    if (!present(key, limits, "a list of objects")) return;
    value.clear();
    const auto& items = list(key, "a list of objects");
    for (size_t i = 0; i < items.size(); ++i) {
      JsonFieldReader item(JsonReader(items[i], r_.where() + ": " + key + "[" + std::to_string(i) + "]"));
      value.emplace_back();
      fields(item, value.back());
    }
  }

 private:
  const nlohmann::json& list(const char* key, const std::string& expected) const {
    const auto& value = r_.at(key);
    if (!value.is_array()) r_.fail(key, expected);
    return value;
  }
  bool present(const char* key, const Limits& limits, const std::string& expected) const {
    if (r_.has(key)) return true;
    if (limits.required) r_.fail(key, expected);
    return false;
  }
  static std::string range_text(const Limits& limits) {
    auto show = [](double x) { return nlohmann::json(x).dump(); };
    if (limits.min && limits.max) return " from " + show(*limits.min) + " to " + show(*limits.max);
    return limits.min ? " of at least " + show(*limits.min) : " of at most " + show(*limits.max);
  }
  template <class E>
  E pick(const char* key, const std::string& name, const Choices<E>& choices) const {
    if (const auto value = choice_value(choices, name)) return *value;
    r_.fail(key, "one of " + choice_names(choices) + " (got '" + name + "')");
  }

  JsonReader r_;
};

class JsonFieldWriter {
 public:
  explicit JsonFieldWriter(nlohmann::json& out) : out_(out) {}

  template <class T>
  void operator()(const char* key, const T& value, Limits = {}) {
    out_[key] = value;
  }
  void operator()(const char* key, const std::optional<double>& value, Limits = {}) {
    if (value) out_[key] = *value;
  }
  template <class E>
  void choice(const char* key, const E& value, const Choices<E>& choices, Limits = {}) {
    out_[key] = choice_name(choices, value);
  }
  template <class E>
  void choice_list(const char* key, const std::vector<E>& value, const Choices<E>& choices, Limits = {}) {
    auto list = nlohmann::json::array();
    for (const auto& v : value) list.push_back(choice_name(choices, v));
    out_[key] = list;
  }
  template <class T, class Parse, class Print>
  void parsed(const char* key, const T& value, Parse, Print print, Limits = {}) {
    out_[key] = print(value);
  }
  template <class S>
  void section(const char* key, S& s, Limits = {}) {
    nlohmann::json inner = nlohmann::json::object();
    JsonFieldWriter writer(inner);
    fields(writer, s);
    out_[key] = inner;
  }
  template <class S>
  void list(const char* key, std::vector<S>& value, Limits = {}) {
    auto items = nlohmann::json::array();
    for (auto& item : value) items.push_back(to_json_object(item));
    out_[key] = items;
  }

  template <class S>
  static nlohmann::json to_json_object(S& s) {
    nlohmann::json out = nlohmann::json::object();
    JsonFieldWriter writer(out);
    fields(writer, s);
    return out;
  }

 private:
  nlohmann::json& out_;
};

}  // namespace infini
