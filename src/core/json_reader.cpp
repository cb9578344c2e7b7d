#include "core/json_reader.h"

#include <cmath>

#include "core/errors.h"

namespace infini {

namespace {

std::string range_text(int64_t lo, int64_t hi) {
  constexpr auto min = std::numeric_limits<int64_t>::min(), max = std::numeric_limits<int64_t>::max();
  if (lo == min && hi == max) return "a whole number";
  if (hi == max) return "a whole number of at least " + std::to_string(lo);
  return "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
}

std::string shown(const nlohmann::json& value) {
  auto text = value.dump();
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

}  // namespace

JsonReader::JsonReader(const nlohmann::json& object, std::string where) : json_(object), where_(std::move(where)) {
  if (!json_.is_object()) throw InputError(where_ + ": expected a JSON object, found " + shown(json_));
}

void JsonReader::fail(const std::string& key, const std::string& expected) const {
  const auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) throw InputError(where_ + ": missing key '" + key + "' (expected " + expected + ")");
  throw InputError(where_ + ": key '" + key + "' is " + shown(*it) + ", expected " + expected);
}

bool JsonReader::has(const std::string& key) const {
  const auto it = json_.find(key);
  return it != json_.end() && !it->is_null();
}

const nlohmann::json& JsonReader::at(const std::string& key) const {
  if (!has(key)) fail(key, "a value");
  return json_.at(key);
}

JsonReader JsonReader::object(const std::string& key) const {
  if (!has(key) || !json_.at(key).is_object()) fail(key, "an object");
  return JsonReader(json_.at(key), where_ + ": " + key);
}

int64_t JsonReader::whole(const nlohmann::json& value, const std::string& key, int64_t lo, int64_t hi) const {
  // is_number_integer is false for 1.5 and 1e30; an unsigned value past int64 is refused too.
  if (!value.is_number_integer() || (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(kMax))) {
    fail(key, range_text(lo, hi));
  }
  const auto v = value.get<int64_t>();
  if (v < lo || v > hi) fail(key, range_text(lo, hi));
  return v;
}

int64_t JsonReader::integer(const std::string& key, int64_t lo, int64_t hi) const {
  if (!has(key)) fail(key, range_text(lo, hi));
  return whole(json_.at(key), key, lo, hi);
}

int64_t JsonReader::integer_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  return has(key) ? integer(key, lo, hi) : fallback;
}

std::vector<int64_t> JsonReader::integers(const std::string& key, int64_t lo, int64_t hi) const {
  if (!has(key) || !json_.at(key).is_array()) fail(key, "a list of " + range_text(lo, hi) + "s");
  std::vector<int64_t> out;
  for (const auto& v : json_.at(key)) {
    if (!v.is_number_integer()) fail(key, "a list of " + range_text(lo, hi) + "s");
    const auto x = v.get<int64_t>();
    if (x < lo || x > hi) fail(key, "a list of " + range_text(lo, hi) + "s");
    out.push_back(x);
  }
  return out;
}

double JsonReader::number(const std::string& key) const {
  if (!has(key) || !json_.at(key).is_number() || !std::isfinite(json_.at(key).get<double>())) fail(key, "a number");
  return json_.at(key).get<double>();
}

double JsonReader::number_or(const std::string& key, double fallback) const { return has(key) ? number(key) : fallback; }

std::string JsonReader::text(const std::string& key) const {
  if (!has(key) || !json_.at(key).is_string()) fail(key, "a string");
  return json_.at(key).get<std::string>();
}

std::string JsonReader::text_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? text(key) : fallback;
}

bool JsonReader::boolean_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!json_.at(key).is_boolean()) fail(key, "true or false");
  return json_.at(key).get<bool>();
}

std::vector<std::string> JsonReader::texts_or(const std::string& key) const {
  if (!has(key)) return {};
  const auto& value = json_.at(key);
  if (!value.is_array()) fail(key, "a list of strings");
  std::vector<std::string> out;
  for (const auto& v : value) {
    if (!v.is_string()) fail(key, "a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace infini
