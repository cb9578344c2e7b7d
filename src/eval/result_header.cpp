#include "eval/result_header.h"

#include "core/errors.h"
#include "core/json_reader.h"

namespace infini {

nlohmann::json result_header(const std::string& kind) { return {{"kind", kind}, {"schema", kResultSchema}}; }

std::string result_kind(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw InputError(where + ": not a result of eval ppl, eval passkey or eval gates (not an object)");
  const JsonReader r(json, where);
  const auto kind = r.text_or("kind", json.contains("total") ? "ppl" : "");
  if (kind != "ppl" && kind != "passkey" && kind != "gates") {
    throw InputError(where + ": not a result of eval ppl, eval passkey or eval gates (\"kind\" is " +
                     (kind.empty() ? std::string("missing") : "\"" + kind + "\"") + ")");
  }
  r.integer_or("schema", 1, 1, kResultSchema);
  return kind;
}

}  // namespace infini
