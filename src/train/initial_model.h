// Where a fresh run's weights come from (the init section): another checkpoint's, converted to
// this config's attention (continual pre-training), or a seeded initialisation. `infini train`
// and `infini init` both start here.
#pragma once

#include <string>

#include "config/run_config.h"
#include "model/decoder.h"

namespace infini {

// With init.from: completes config.model from that checkpoint's config.json (the model keys the
// run config gave override it) and, when data.tokenizer is empty, takes the checkpoint's
// tokenizer. Nothing otherwise. `origin` names the run config in messages.
void complete_from_init(RunConfig& config, const std::string& origin);

// The starting weights for config.model (complete, tokenizer bound), on the CPU: init.from's
// converted, or initialised from run.seed; gates as InitSection says.
Decoder initial_model(const RunConfig& config);

}  // namespace infini
