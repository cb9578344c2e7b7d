#include "test_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <random>

#include "data/tokenizer.h"

namespace fs = std::filesystem;

namespace infini::test {

ModelConfig tiny_config(AttentionKind kind, int64_t segment_length, int64_t heads, int64_t kv_heads) {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.intermediate_size = 48;
  c.attention.kind = kind;
  c.attention.segment_length = segment_length;
  return c;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "infini-test-XXXXXX").string();
  path_ = ::mkdtemp(pattern.data());
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

ScopedEnvironment::ScopedEnvironment(std::vector<std::pair<std::string, std::string>> variables)
    : variables_(std::move(variables)) {
  for (const auto& [name, value] : variables_) ::setenv(name.c_str(), value.c_str(), 1);
}

ScopedEnvironment::~ScopedEnvironment() {
  for (const auto& [name, value] : variables_) ::unsetenv(name.c_str());
}

ScopedEnvironment ScopedEnvironment::one_rank_group(int port) {
  return ScopedEnvironment(
      {{"WORLD_SIZE", "1"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}});
}

CommandResult run_infini(const std::string& args) {
  CommandResult result;
  std::string command = std::string(INFINI_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string generated_text(int64_t words, uint64_t seed) {
  static const std::vector<std::string> vocabulary = {
      "the", "memory", "of", "a", "long", "book", "is", "kept", "in", "matrix", "and", "read", "by",
      "every", "segment", "river", "stone", "light", "green", "sky", "blue", "sun", "yellow", "we", "go",
      "there", "back", "again", "key", "pass", "number", "seven", "attention", "gate", "head", "layer"};
  std::mt19937_64 rng(seed);
  std::string text;
  size_t previous = 0;
  for (int64_t i = 0; i < words; ++i) {
    // A little structure: each word mostly follows from the previous one.
    size_t next = (rng() % 4 == 0) ? rng() % vocabulary.size() : (previous * 7 + 3) % vocabulary.size();
    text += vocabulary[next];
    text += (i % 13 == 12) ? ".\n" : " ";
    previous = next;
  }
  return text;
}

const std::string& shared_tokenizer() {
  static const std::string path = [] {
    const std::string target = std::string(INFINI_TEST_ASSETS) + "/tokenizer.model";
    if (fs::exists(target)) return target;
    fs::create_directories(INFINI_TEST_ASSETS);
    const std::string corpus = std::string(INFINI_TEST_ASSETS) + "/corpus-" + std::to_string(::getpid()) + ".txt";
    write_text(corpus, generated_text(20000));
    // Trained by the binary, as a user would: trained in this process, the test binary crashed
    // (SIGSEGV) on the GPU machine (Ubuntu 24.04, LibTorch 2.11; scripts/gpu_check.sh).
    const std::string output = std::string(INFINI_TEST_ASSETS) + "/tokenizer-" + std::to_string(::getpid()) + ".model";
    const auto trained = run_infini("tokenizer train --input " + corpus + " --vocab-size 300 --threads 1 --out " + output);
    if (trained.status != 0) throw std::runtime_error("training the test tokenizer failed:\n" + trained.output);
    fs::rename(output, target);
    fs::remove(corpus);
    return target;
  }();
  return path;
}

bool contains_at(const std::vector<int64_t>& haystack, int64_t at, const std::vector<int64_t>& needle) {
  if (at < 0 || at + static_cast<int64_t>(needle.size()) > static_cast<int64_t>(haystack.size())) return false;
  return std::equal(needle.begin(), needle.end(), haystack.begin() + at);
}

BusyChild::BusyChild() : pid_(fork()) {
  if (pid_ == 0) {
    for (volatile uint64_t i = 0;; ++i) {
    }
  }
}

BusyChild::~BusyChild() {
  if (pid_ <= 0) return;  // fork failed: nothing to end
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

}  // namespace infini::test
