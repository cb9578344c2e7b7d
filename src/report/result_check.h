// What `infini report` accepts as a result: the JSON that eval ppl, eval passkey and eval gates
// write. Every key the report reads is checked for its type here, once, so that a hand-edited or
// foreign file ends in one line naming the file and key instead of a JSON library exception.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace infini {

// "ppl", "passkey" or "gates"; InputError naming `where` and the key when `result` is none of
// them or lacks a key the report needs.
std::string checked_result_kind(const nlohmann::json& result, const std::string& where);

}  // namespace infini
