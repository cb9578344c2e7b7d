// The trainer's batches, from the data section of a run config: long documents (prepared shards,
// or text tokenised into RUN_DIR/data/train once) through the document loader, or generated
// passkey sequences (data.task: passkey).
#pragma once

#include <memory>
#include <string>

#include "config/run_config.h"
#include "data/batch_source.h"
#include "data/token_shards.h"
#include "train/communicator.h"

namespace infini {

struct TrainingData {
  std::unique_ptr<TokenShards> shards;  // the documents' tokens (task documents), read by `source`
  std::unique_ptr<BatchSource> source;
  double bytes_per_token = 0.0;         // UTF-8 bytes per predicted token, for bits per byte
};

// `origin` names the config in messages. Rank 0 prepares text into shards; the others wait.
TrainingData open_training_data(const RunConfig& config, Communicator& comm, const std::string& origin);

}  // namespace infini
