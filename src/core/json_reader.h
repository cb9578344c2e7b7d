// Typed reads of one JSON object's keys, for every file the program reads back (config.json,
// trainer_state.json, result JSON): a key of the wrong type or out of range is an InputError
// naming the file and the key ("ckpt/trainer_state.json: key 'step' is "x", expected a whole
// number from 0 to ..."). Whole numbers must be JSON integers: 1.5 and 1e30 are refused, never
// truncated.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace infini {

class JsonReader {
 public:
  // `where` names the file (and the enclosing key for nested objects).
  JsonReader(const nlohmann::json& object, std::string where);

  bool has(const std::string& key) const;  // present and not null
  const nlohmann::json& at(const std::string& key) const;  // required, any type
  JsonReader object(const std::string& key) const;         // required nested object

  int64_t integer(const std::string& key, int64_t lo = kMin, int64_t hi = kMax) const;
  int64_t integer_or(const std::string& key, int64_t fallback, int64_t lo = kMin, int64_t hi = kMax) const;
  std::vector<int64_t> integers(const std::string& key, int64_t lo = kMin, int64_t hi = kMax) const;
  double number(const std::string& key) const;  // finite
  double number_or(const std::string& key, double fallback) const;
  std::string text(const std::string& key) const;
  std::string text_or(const std::string& key, const std::string& fallback) const;
  bool boolean_or(const std::string& key, bool fallback) const;
  std::vector<std::string> texts_or(const std::string& key) const;  // empty when absent

  const std::string& where() const { return where_; }
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;

 private:
  static constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t whole(const nlohmann::json& value, const std::string& key, int64_t lo, int64_t hi) const;

  const nlohmann::json& json_;
  std::string where_;
};

}  // namespace infini
