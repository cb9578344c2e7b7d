// Where training batches come from: long documents (loader.h) or a generated task
// (passkey_loader.h). A source's whole position is a LoaderState, saved in checkpoints and
// restored exactly.
#pragma once

#include "data/loader_batch.h"

namespace infini {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual LoaderBatch next() = 0;
  virtual LoaderState state() const = 0;
  virtual void restore(const LoaderState& state) = 0;
};

}  // namespace infini
