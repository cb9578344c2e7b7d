// Typed binding between YAML mappings and config structs, in both directions.
//
// A config section is described once, by a function `fields(F& f, Section& s)` that names each
// key with its C++ member and limits (core/schema.h; the model's is in model/model_config.h and
// serves config.json too). FieldReader runs it against a YAML node, validating as it goes;
// FieldWriter runs it to emit the resolved YAML. Errors name the file, the key path and
// what was expected, and an unknown key suggests the nearest valid one.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/schema.h"

namespace infini {

// Levenshtein-nearest of `candidates` to `word`, or "" when nothing is close.
std::string nearest_key(const std::string& word, const std::set<std::string>& candidates);

class FieldReader {
 public:
  // `partial`: required keys may be missing (a model section completed later from init.from).
  FieldReader(YAML::Node node, std::string path, std::string file, bool partial = false);

  void operator()(const char* key, int64_t& value, Limits limits = {});
  void operator()(const char* key, double& value, Limits limits = {});
  void operator()(const char* key, bool& value, Limits limits = {});
  void operator()(const char* key, std::string& value, Limits limits = {});
  void operator()(const char* key, std::optional<double>& value, Limits limits = {});

  // A value written as text: `parse` (which throws InputError for bad text) reads it.
  template <class T, class Parse, class Print>
  void parsed(const char* key, T& value, Parse parse, Print, Limits limits = {}) {
    auto node = take(key, limits, "a string");
    if (!node) return;
    const std::string text = scalar(key, *node, "a string");
    try {
      value = parse(text);
    } catch (const InputError& e) {
      fail(key, e.what());
    }
  }

  template <class E>
  void choice(const char* key, E& value, const Choices<E>& choices, Limits limits = {}) {
    auto node = take(key, limits, "one of " + choice_names(choices));
    if (!node) return;
    value = pick(key, scalar(key, *node, "one of " + choice_names(choices)), choices);
  }

  template <class E>
  void choice_list(const char* key, std::vector<E>& value, const Choices<E>& choices, Limits limits = {}) {
    const std::string expected = "a list of " + choice_names(choices);
    auto node = take(key, limits, expected);
    if (!node) return;
    if (!node->IsSequence()) fail(key, "expected " + expected);
    value.clear();
    for (const auto& item : *node) value.push_back(pick(key, scalar(key, item, expected), choices));
  }

  template <class S>
  void section(const char* key, S& s, Limits limits = {}) {
    auto node = take(key, limits, "a mapping");
    if (!node) return;
    if (!node->IsMap()) fail(key, "expected a mapping of keys");
    FieldReader inner(*node, key_path(key), file_, partial_);
    fields(inner, s);
    inner.finish();
  }

  // Throws for keys in the node that no field named.
  void finish();

 private:
  std::optional<YAML::Node> take(const char* key, const Limits& limits, const std::string& expected);
  std::string scalar(const char* key, const YAML::Node& node, const std::string& expected);
  template <class T>
  T convert(const char* key, const YAML::Node& node, const std::string& expected);
  void check_range(const char* key, double value, const Limits& limits, const std::string& kind);
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  template <class E>
  E pick(const char* key, const std::string& text, const Choices<E>& choices) {
    if (const auto value = choice_value(choices, text)) return *value;
    fail(key, "expected one of " + choice_names(choices) + ", got '" + text + "'");
  }

  YAML::Node node_;
  std::string path_;
  std::string file_;
  bool partial_ = false;
  std::set<std::string> known_;
};

class FieldWriter {
 public:
  static std::string shortest(double value);

  explicit FieldWriter(YAML::Node node) : node_(std::move(node)) {}

  template <class T>
  void operator()(const char* key, const T& value, Limits = {}) {
    node_[key] = value;
  }
  // The shortest text that reads back as the same double: 0.003, not 0.0030000000000000001.
  void operator()(const char* key, const double& value, Limits = {}) { node_[key] = shortest(value); }
  void operator()(const char* key, const std::optional<double>& value, Limits = {}) {
    if (value) node_[key] = shortest(*value);
  }
  template <class E>
  void choice(const char* key, const E& value, const Choices<E>& choices, Limits = {}) {
    node_[key] = choice_name(choices, value);
  }
  template <class E>
  void choice_list(const char* key, const std::vector<E>& value, const Choices<E>& choices, Limits = {}) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& v : value) list.push_back(choice_name(choices, v));
    node_[key] = list;
  }
  template <class T, class Parse, class Print>
  void parsed(const char* key, const T& value, Parse, Print print, Limits = {}) {
    node_[key] = print(value);
  }
  template <class S>
  void section(const char* key, S& s, Limits = {}) {
    YAML::Node inner(YAML::NodeType::Map);
    FieldWriter writer(inner);
    fields(writer, s);
    node_[key] = inner;
  }

 private:
  YAML::Node node_;
};

// Applies "a.b.c=value" to `root` (value parsed as YAML); throws InputError when malformed.
void apply_override(YAML::Node& root, const std::string& assignment);

}  // namespace infini
