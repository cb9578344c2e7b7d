// Helpers shared by the tests: tiny configs, a temporary directory, running the CLI binary.
#pragma once

#include <string>
#include <utility>
#include <vector>
#include <torch/torch.h>

#include "model/model_config.h"

namespace infini::test {

// A small model config of the given kind, small enough for float64 references.
ModelConfig tiny_config(AttentionKind kind, int64_t segment_length = 8, int64_t heads = 4, int64_t kv_heads = 2);

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};
// Runs the built `infini` binary with `args` (a shell fragment).
CommandResult run_infini(const std::string& args);

// Sets environment variables for its lifetime (processes started meanwhile inherit them), then
// unsets them.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(std::vector<std::pair<std::string, std::string>> variables);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
  // torchrun's variables for a process group of one rank on this machine.
  static ScopedEnvironment one_rank_group(int port);

 private:
  std::vector<std::pair<std::string, std::string>> variables_;
};

// A SentencePiece model trained once per test process on generated text; its path.
const std::string& shared_tokenizer();

// Writes `text` to `path`.
void write_text(const std::string& path, const std::string& text);
// The bytes of `path` ("" when it cannot be read).
std::string read_text(const std::string& path);
// Generated English-like text of about `words` words (deterministic).
std::string generated_text(int64_t words, uint64_t seed = 1);
// Whether `needle` occurs in `haystack` starting at index `at`.
bool contains_at(const std::vector<int64_t>& haystack, int64_t at, const std::vector<int64_t>& needle);

// max |got − want|, in float64.
inline double largest_difference(const torch::Tensor& got, const torch::Tensor& want) {
  return (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
}

// ‖got − want‖ / ‖want‖, in float64.
inline double relative_difference(const torch::Tensor& got, const torch::Tensor& want) {
  auto exact = want.to(torch::kFloat64);
  return ((got.to(torch::kFloat64) - exact).norm() / exact.norm()).item<double>();
}

// A child process that spins on one core until this goes out of scope (pid <= 0: fork failed).
class BusyChild {
 public:
  BusyChild();
  ~BusyChild();
  BusyChild(const BusyChild&) = delete;
  BusyChild& operator=(const BusyChild&) = delete;
  int pid() const { return pid_; }

 private:
  int pid_;
};

// Two intra-op threads for the scope: the hand-written parallel loops share work out only when
// there are several.
struct TwoThreads {
  int64_t before = at::get_num_threads();
  TwoThreads() { at::set_num_threads(2); }
  ~TwoThreads() { at::set_num_threads(before); }
};

}  // namespace infini::test
