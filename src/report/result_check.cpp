#include "report/result_check.h"

#include "core/errors.h"
#include "core/json_reader.h"

namespace infini {

namespace {

// Calls `each` with a reader of every object in the list under `key`.
template <class Each>
void each_object(const JsonReader& r, const std::string& key, bool allow_empty, Each each) {
  const auto& list = r.at(key);
  if (!list.is_array() || (!allow_empty && list.empty())) r.fail(key, allow_empty ? "a list" : "a non-empty list");
  for (size_t i = 0; i < list.size(); ++i) each(JsonReader(list[i], r.where() + ": " + key + "[" + std::to_string(i) + "]"));
}

void check_numbers(const JsonReader& r, const std::string& key) {
  const auto& list = r.at(key);
  if (!list.is_array()) r.fail(key, "a list of numbers");
  for (const auto& v : list) {
    if (!v.is_number()) r.fail(key, "a list of numbers");
  }
}

void check_gates(const JsonReader& r, bool required) {
  if (!required && !r.has("gates")) return;
  each_object(r, "gates", !required, [](const JsonReader& layer) {
    layer.integer("layer", 0);
    layer.number("mean");
    for (const auto* key : {"memory_heads", "local_heads", "mixer_heads"}) layer.integer(key, 0);
    check_numbers(layer, "values");
  });
}

void check_ppl(const JsonReader& r) {
  r.integer("segment_length", 1);
  r.text_or("data", "");
  r.boolean_or("memory", true);
  const auto attention = r.object("model").object("infini_attention");
  attention.text("kind");
  attention.text_or("memory_update", "linear");
  attention.integer_or("segment_length", 1, 1);
  const auto total = r.object("total");
  total.number("ppl");
  total.number("bits_per_byte");
  total.integer("tokens", 0);
  total.integer("documents", 0);
  each_object(r, "by_position", true, [](const JsonReader& bucket) {
    bucket.integer("start", 0);
    bucket.integer("end", 0);
    bucket.integer("tokens", 0);
    bucket.number("nll");
    bucket.number("ppl");
  });
  const auto footprint = r.object("footprint");
  for (const auto* key : {"memory_state_bytes", "transformer_xl_bytes", "kv_cache_bytes_full_attention",
                          "compression_ratio", "parameters", "peak_rss_bytes", "peak_device_bytes"}) {
    footprint.number_or(key, 0.0);
  }
  footprint.integer_or("segment_length", 0, 0);
  footprint.integer_or("length", 0, 0);
  check_gates(r, false);
}

void check_passkey(const JsonReader& r) {
  each_object(r, "accuracy", false, [](const JsonReader& cell) {
    cell.integer("length", 1);
    cell.number("depth");
    cell.number("accuracy");
  });
  check_gates(r, false);
}

}  // namespace

std::string checked_result_kind(const nlohmann::json& result, const std::string& where) {
  if (!result.is_object()) throw InputError(where + ": not a result of eval ppl, eval passkey or eval gates (not an object)");
  const JsonReader r(result, where);
  const auto kind = r.text_or("kind", result.contains("total") ? "ppl" : "");
  if (kind != "ppl" && kind != "passkey" && kind != "gates") {
    throw InputError(where + ": not a result of eval ppl, eval passkey or eval gates (\"kind\" is " +
                     (kind.empty() ? std::string("missing") : "\"" + kind + "\"") + ")");
  }
  r.text("checkpoint");
  if (kind == "ppl") check_ppl(r);
  if (kind == "passkey") check_passkey(r);
  if (kind == "gates") check_gates(r, true);
  return kind;
}

}  // namespace infini
