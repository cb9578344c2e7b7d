// `infini data prepare`: documents → token shards (token_shards.h), tokenised on all cores.
//
// Re-running on the same inputs with the same tokenizer is a no-op; an output directory holding
// other shards is never overwritten unless asked (force, which always rebuilds).
#pragma once

#include <cstdint>
#include <string>

namespace infini {

struct PrepareOptions {
  std::string tokenizer;  // FILE.model
  std::string input;      // PATH as DocumentSource accepts it
  std::string out;        // shard directory
  int threads = 0;        // 0: one per core
  int64_t shard_tokens = int64_t{1} << 28;  // a new shard file past this many tokens
  std::string token_dtype = "auto";         // auto (uint16 when the vocabulary fits) | uint16 | uint32
  bool force = false;
};

struct PrepareReport {
  bool up_to_date = false;  // nothing was done
  int64_t documents = 0;
  int64_t skipped = 0;  // documents that are not valid UTF-8
  int64_t tokens = 0;
  int64_t bytes = 0;
  double seconds = 0;
};

PrepareReport prepare_shards(const PrepareOptions& options);


}  // namespace infini
