#include "config/fields.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <sstream>

namespace infini {

std::string nearest_key(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& candidate : candidates) {
    std::vector<size_t> row(candidate.size() + 1);
    for (size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (word[i - 1] == candidate[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    if (row.back() < best_distance) best_distance = row.back(), best = candidate;
  }
  // Only suggest what is plausibly a typo: at most a third of the word changed.
  return best_distance <= std::max<size_t>(2, word.size() / 3) ? best : "";
}

FieldReader::FieldReader(YAML::Node node, std::string path, std::string file, bool partial)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)), partial_(partial) {}

void FieldReader::fail(const std::string& key, const std::string& message) const {
  throw InputError(file_ + ": " + key_path(key) + ": " + message);
}

std::optional<YAML::Node> FieldReader::take(const char* key, const Limits& limits, const std::string& expected) {
  known_.insert(key);
  const YAML::Node& node = node_;
  YAML::Node child = node[key];
  if (!child || child.IsNull()) {
    if (limits.required && !partial_) fail(key, "missing required key (expected " + expected + ")");
    return std::nullopt;
  }
  return child;
}

std::string FieldReader::scalar(const char* key, const YAML::Node& node, const std::string& expected) {
  if (!node.IsScalar()) fail(key, "expected " + expected + ", got a " + (node.IsMap() ? "mapping" : "list"));
  return node.Scalar();
}

template <class T>
T FieldReader::convert(const char* key, const YAML::Node& node, const std::string& expected) {
  const std::string text = scalar(key, node, expected);
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(key, "expected " + expected + ", got '" + text + "'");
  }
}

void FieldReader::check_range(const char* key, double value, const Limits& limits, const std::string& kind) {
  auto show = [](double x) {
    std::ostringstream s;
    s << x;
    return s.str();
  };
  if ((limits.min && value < *limits.min) || (limits.max && value > *limits.max)) {
    std::string range = limits.min && limits.max ? "between " + show(*limits.min) + " and " + show(*limits.max)
                        : limits.min            ? ">= " + show(*limits.min)
                                                : "<= " + show(*limits.max);
    fail(key, "expected " + kind + " " + range + ", got " + show(value));
  }
}

void FieldReader::operator()(const char* key, int64_t& value, Limits limits) {
  auto node = take(key, limits, "an integer");
  if (!node) return;
  value = convert<int64_t>(key, *node, "an integer");
  check_range(key, static_cast<double>(value), limits, "an integer");
}

void FieldReader::operator()(const char* key, double& value, Limits limits) {
  auto node = take(key, limits, "a number");
  if (!node) return;
  value = convert<double>(key, *node, "a number");
  if (!std::isfinite(value)) fail(key, "expected a finite number");
  check_range(key, value, limits, "a number");
}

void FieldReader::operator()(const char* key, bool& value, Limits limits) {
  auto node = take(key, limits, "true or false");
  if (!node) return;
  value = convert<bool>(key, *node, "true or false");
}

void FieldReader::operator()(const char* key, std::string& value, Limits limits) {
  auto node = take(key, limits, "a string");
  if (!node) return;
  value = scalar(key, *node, "a string");
}

void FieldReader::operator()(const char* key, std::optional<double>& value, Limits limits) {
  if (!take(key, limits, "a number")) return;
  double read = 0.0;
  (*this)(key, read, limits);
  value = read;
}

void FieldReader::finish() {
  for (const auto& item : node_) {
    const auto key = item.first.as<std::string>();
    if (known_.count(key)) continue;
    std::string suggestion = nearest_key(key, known_);
    fail(key, "unknown key" + (suggestion.empty() ? std::string() : " (did you mean " + key_path(suggestion) + "?)"));
  }
}

std::string FieldWriter::shortest(double value) { return fmt::format("{}", value); }

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError("--set '" + assignment + "': expected key.path=value");
  }
  const std::string path = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);
  std::vector<std::string> keys;
  std::stringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) {
    if (part.empty()) throw InputError("--set '" + assignment + "': empty key in '" + path + "'");
    keys.push_back(part);
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError("--set '" + assignment + "': value is not valid YAML (" + e.msg + ")");
  }
  // yaml-cpp nodes are handles: walk down with reset() so assignment never overwrites a parent.
  YAML::Node cursor;
  cursor.reset(root);
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    if (cursor[keys[i]] && !cursor[keys[i]].IsMap()) {
      throw InputError("--set '" + assignment + "': " + keys[i] + " is not a mapping");
    }
    YAML::Node next = cursor[keys[i]];
    if (!next) {
      cursor[keys[i]] = YAML::Node(YAML::NodeType::Map);
      next = cursor[keys[i]];
    }
    cursor.reset(next);
  }
  cursor[keys.back()] = value;
}

}  // namespace infini
