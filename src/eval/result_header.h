// What every result JSON of `eval ppl`, `eval passkey` and `eval gates` starts with: its kind and
// the version of its layout. Each result struct reads and writes the rest through one schema
// (`fields`, core/schema.h), so `infini report` reads back exactly what was written, and a
// renamed or missing key fails with the file and key named.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/errors.h"
#include "core/json_fields.h"

namespace infini {

// Raised when a layout changes in a way older readers would misread.
constexpr int64_t kResultSchema = 1;

// {"kind": kind, "schema": kResultSchema}
nlohmann::json result_header(const std::string& kind);

// "ppl", "passkey" or "gates"; InputError naming `where` for anything else, or for a schema newer
// than this program reads. Files without "schema" (written before it was recorded) are schema 1;
// a ppl result without "kind" is recognised by its "total".
std::string result_kind(const nlohmann::json& json, const std::string& where);

// The header and `result`'s schema (its fields()); taken by value, as the writer visits a
// mutable struct.
template <class R>
nlohmann::json result_json(const std::string& kind, R result) {
  auto json = result_header(kind);
  JsonFieldWriter writer(json);
  fields(writer, result);
  return json;
}

// A result of `kind` read through its schema; InputError naming `where` and the key otherwise.
template <class R>
R read_result(const nlohmann::json& json, const std::string& where, const std::string& kind) {
  if (result_kind(json, where) != kind) throw InputError(where + ": not a result of eval " + kind);
  R result;
  JsonFieldReader reader(JsonReader(json, where));
  fields(reader, result);
  return result;
}

}  // namespace infini
