// Two perplexities on the same documents, compared document by document: how many documents
// improved, and a bootstrap confidence interval of the perplexity ratio (documents resampled
// with replacement, the ratio recomputed over each resample's pooled tokens).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "eval/perplexity.h"

namespace infini {

struct PairedComparison {
  int64_t documents = 0;  // in both, matched by name
  int64_t improved = 0;   // documents whose perplexity is lower under `candidate`
  double ratio = 0.0;     // perplexity of `candidate` over that of `baseline`, all matched documents pooled
  double low = 0.0, high = 0.0;  // the central 95% of the bootstrap ratios
};

// std::nullopt when no document is in both. Deterministic: the resamples follow `seed`.
std::optional<PairedComparison> compare_paired(const std::vector<DocumentScore>& baseline,
                                               const std::vector<DocumentScore>& candidate, int resamples = 2000,
                                               uint64_t seed = 0);

}  // namespace infini
