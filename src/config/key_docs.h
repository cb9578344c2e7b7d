// What each run-config key means, for `infini train --print-config`: the resolved config as YAML
// with every key's meaning and default beside it, as litgpt's and Hugging Face's printed configs
// carry them. The text reads back as the same config (the notes are YAML comments).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/run_config.h"

namespace infini {

// "section.key" → one line on what it does; sections have an entry of their own.
const std::vector<std::pair<std::string, std::string>>& run_config_key_docs();

// resolved_yaml(config) with "# meaning (default: X)" after every key, and optional keys the
// config leaves unset listed as comments.
std::string documented_yaml(const RunConfig& config);

}  // namespace infini
