// The long-document loader: each batch row streams one document in order, segment after
// segment, so the model can carry memory along the row and reset it exactly where a new
// document begins.
//
// Per step it yields [batch, sequence_length] inputs and targets and, per row and position,
// whether a document starts there. Short documents are packed back to back (a start at each);
// long ones continue across steps in the same row. Document order is shuffled per epoch from the
// seed; rank r of w takes every w-th document of that order, so ranks see disjoint shares. The
// whole position is a small LoaderState, saved and restored exactly. With `align`, documents
// start only at segment boundaries.
#pragma once

#include <cstdint>
#include <vector>

#include "data/batch_source.h"
#include "data/token_shards.h"

namespace infini {

struct LoaderOptions {
  int64_t batch_size = 1;
  int64_t sequence_length = 2048;
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  bool shuffle = true;  // false: corpus order
  bool repeat = true;   // false: one pass, then padded rows and end_of_data
  // Documents start only at multiples of this many positions in a row (the rest of the last
  // segment of the previous one is padding), so a model can reset memory at segment boundaries.
  int64_t align = 1;
};

class DocumentLoader : public BatchSource {
 public:
  DocumentLoader(const TokenShards& shards, LoaderOptions options);

  LoaderBatch next() override;
  LoaderState state() const override { return state_; }
  void restore(const LoaderState& state) override;
  // This rank's documents in epoch `epoch`, in the order it serves them.
  std::vector<int64_t> epoch_documents(int64_t epoch) const;

 private:
  int64_t take_document();  // -1 when a non-repeating loader has run out

  const TokenShards& shards_;
  LoaderOptions options_;
  LoaderState state_;
  std::vector<int64_t> order_;  // epoch_documents(state_.epoch), cached
};

}  // namespace infini
