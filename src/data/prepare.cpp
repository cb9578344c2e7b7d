#include "data/prepare.h"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <spdlog/spdlog.h>
#include <thread>

#include "core/errors.h"
#include "core/files.h"
#include "core/staged_directory.h"
#include "data/documents.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"

namespace infini {

namespace {

// Identifies the inputs cheaply (path, size and modification time of each file) together with
// the tokenizer, so an unchanged corpus is recognised without reading it.
std::string inputs_fingerprint(const DocumentSource& source, const std::string& tokenizer_fingerprint) {
  std::string description = "format " + std::to_string(kShardFormat) + "\ntokenizer " + tokenizer_fingerprint + "\n";
  for (const auto& file : source.files()) {
    struct stat st {};
    ::stat(file.c_str(), &st);
    description += file + "\t" + std::to_string(st.st_size) + "\t" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  return fingerprint(description);
}

}  // namespace

PrepareReport prepare_shards(const PrepareOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  DocumentSource source(options.input);
  const std::string tokenizer_fingerprint = file_fingerprint(options.tokenizer);
  const std::string inputs = inputs_fingerprint(source, tokenizer_fingerprint);
  PrepareReport report;
  if (std::filesystem::exists(options.out)) {
    nlohmann::json existing;
    if (std::filesystem::exists(options.out + "/manifest.json")) existing = read_json_file(options.out + "/manifest.json");
    if (!options.force && !existing.is_null() && existing.value("inputs_fingerprint", "") == inputs) {
      report.up_to_date = true;
      report.documents = existing.value("documents", int64_t{0});
      report.tokens = existing.value("tokens", int64_t{0});
      report.bytes = existing.value("bytes", int64_t{0});
      return report;
    }
    if (!options.force) {
      throw InputError(options.out + ": already holds other shards or files (other inputs or tokenizer); pass --force "
                       "to rebuild it");
    }
  }

  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<Tokenizer> tokenizers;
  for (int t = 0; t < threads; ++t) tokenizers.emplace_back(options.tokenizer);
  const int64_t vocab = tokenizers[0].vocab_size();
  if (options.token_dtype != "auto" && options.token_dtype != "uint16" && options.token_dtype != "uint32") {
    throw InputError("data prepare: token dtype '" + options.token_dtype + "', expected auto, uint16 or uint32");
  }
  if (options.token_dtype == "uint16" && vocab > 65536) {
    throw InputError(options.tokenizer + ": " + std::to_string(vocab) + " pieces do not fit uint16 tokens");
  }
  const bool wide = options.token_dtype == "uint32" || vocab > 65536;

  StagedDirectory out(options.out);
  TokenShardWriter writer(out, wide, options.shard_tokens);
  nlohmann::json skipped = nlohmann::json::array();
  // Every thread tokenises the next document while the main thread writes finished ones in corpus
  // order. Workers stay at most `window` documents ahead of the writer, so memory holds a bounded
  // number of documents however large the corpus, and one long book does not idle the others.
  struct Result {
    std::string name;
    std::vector<int64_t> tokens;
    int64_t bytes = 0;
    int64_t bad_byte = -1;
  };
  const size_t total = source.size(), window = static_cast<size_t>(threads) * 4;
  std::map<size_t, Result> pending;
  size_t next = 0, written = 0;
  std::exception_ptr failure;
  std::mutex mutex;
  std::condition_variable changed;
  auto work = [&](int t) {
    while (true) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return failure || next >= total || next < written + window; });
        if (failure || next >= total) return;
        i = next++;
      }
      Result r;
      try {
        Document document = source.load(i);
        r.name = document.name;
        r.bytes = static_cast<int64_t>(document.text.size());
        r.bad_byte = first_invalid_utf8(document.text);
        if (r.bad_byte < 0) r.tokens = tokenizers[t].document_tokens(document.text);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        changed.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      pending[i] = std::move(r);
      changed.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (; written < total; ++written) {
    Result r;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return failure || pending.count(written); });
      if (failure) break;
      r = std::move(pending[written]);
      pending.erase(written);
      changed.notify_all();
    }
    if (r.bad_byte >= 0) {
      spdlog::warn("{}: skipped, not valid UTF-8 at byte {}", r.name, r.bad_byte);
      skipped.push_back({{"name", r.name}, {"invalid_utf8_at", r.bad_byte}});
      continue;
    }
    if (r.bytes == 0) spdlog::warn("{}: empty document (kept as [bos, eos])", r.name);
    writer.add(r.name, r.tokens, r.bytes);
    report.documents += 1;
    report.tokens += static_cast<int64_t>(r.tokens.size());
    report.bytes += r.bytes;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    written = total;  // releases workers waiting for room
    changed.notify_all();
  }
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
  if (report.documents == 0) {
    throw InputError(options.input + ": no document left to prepare (every one was skipped as invalid UTF-8)");
  }
  nlohmann::json manifest = {{"format", kShardFormat},
                             {"tokenizer", options.tokenizer},
                             {"tokenizer_fingerprint", tokenizer_fingerprint},
                             {"inputs", options.input},
                             {"inputs_fingerprint", inputs},
                             {"vocab_size", vocab},
                             {"bos_id", tokenizers[0].bos_id()},
                             {"eos_id", tokenizers[0].eos_id()},
                             {"dtype", wide ? "uint32" : "uint16"},
                             {"documents", report.documents},
                             {"tokens", report.tokens},
                             {"bytes", report.bytes},
                             {"shards", writer.finish()},
                             {"skipped", skipped}};
  out.write_text("manifest.json", manifest.dump(2) + "\n");
  out.copy_file("tokenizer.model", options.tokenizer);
  out.commit();
  report.skipped = static_cast<int64_t>(skipped.size());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace infini
