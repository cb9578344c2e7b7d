// What a config field may hold, shared by every reader and writer of a schema (YAML run configs
// in config/fields.h, JSON files in core/json_fields.h): numeric limits, required keys, and the
// name tables of enums. A schema is written once as `fields(F& f, Struct& s)`, naming each key
// with its member and limits; each reader or writer is an F.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace infini {

struct Limits {
  std::optional<double> min, max;
  bool required = false;
};
inline Limits at_least(double min) { return {min, std::nullopt, false}; }
inline Limits between(double min, double max) { return {min, max, false}; }
inline Limits required_key() { return {std::nullopt, std::nullopt, true}; }
inline Limits required_at_least(double min) { return {min, std::nullopt, true}; }

// An enum's names, the canonical one of each value first (later entries are accepted spellings).
template <class E>
using Choices = std::vector<std::pair<std::string, E>>;

template <class E>
std::optional<E> choice_value(const Choices<E>& choices, const std::string& name) {
  for (const auto& c : choices) {
    if (c.first == name) return c.second;
  }
  return std::nullopt;
}

template <class E>
std::string choice_name(const Choices<E>& choices, const E& value) {
  for (const auto& c : choices) {
    if (c.second == value) return c.first;
  }
  return "?";
}

// "a, b, c": every accepted name.
template <class E>
std::string choice_names(const Choices<E>& choices) {
  std::string names;
  for (const auto& c : choices) names += (names.empty() ? "" : ", ") + c.first;
  return names;
}

}  // namespace infini
