// Bad input across every command, as a table written from the README's promises: "Exit status: 0
// success; 2 bad usage, config or input (one line naming the file, key or document and what was
// expected) ... A failing command never overwrites an existing checkpoint or output file."
//
// Each case runs an optional shell setup in a work directory holding a tokenizer, documents, a
// checkpoint, a trained run, shards and a result file, then one `infini` command. It asserts the
// exit status, words the message must contain, no stack trace or library internals, and that
// the work directory is unchanged: nothing that existed is altered or lost, no file is left
// behind (unless the case allows new files, as a run directory's tokenised cache).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "test_support.h"

namespace fs = std::filesystem;
using infini::test::read_text;
using infini::test::write_text;

namespace {

struct Case {
  std::string setup;                // shell run in the work directory first ("" for none)
  std::string args;                 // after the binary
  int status;                       // expected exit status
  std::vector<const char*> words;   // the output must contain each (case-insensitive)
  bool new_files_allowed = false;   // e.g. a run directory's tokenised training data
};

const std::string kTrain =
    "--config tiny.yaml --set data.tokenizer=tok.model --set data.train=docs --set train.steps=2 --set run.dir=";

// A Python one-liner that rewrites a checkpoint's config.json key.
std::string edit_json(const std::string& file, const std::string& statement) {
  return "python3 -c \"import json;p='" + file + "';j=json.load(open(p));" + statement +
         ";open(p,'w').write(json.dumps(j))\"";
}

std::vector<Case> cases() {
  const std::string state = "bad/trainer_state.json";
  auto s = [](std::string text) { return text; };
  const std::string copy_state = "rm -rf bad && cp -r run/checkpoints/step-00000002 bad && ";
  auto state_edit = [&](const std::string& statement) { return s(copy_state + edit_json(state, statement)); };
  const std::string copy_ckpt = "rm -rf bad && cp -r ckpt bad && ";
  auto ckpt_edit = [&](const std::string& statement) { return s(copy_ckpt + edit_json("bad/config.json", statement)); };
  // Rewrites model.safetensors' header through Python: `statement` edits the header dict h.
  auto tensors_edit = [&](const std::string& statement) {
    return s(std::string(copy_ckpt) +
             "python3 -c \"import json,struct;p='bad/model.safetensors';b=open(p,'rb').read();n=struct.unpack('<Q',b[:8])[0];"
             "h=json.loads(b[8:8+n]);" + statement +
             ";t=json.dumps(h).encode();t+=b' '*((8-len(t)%8)%8);open(p,'wb').write(struct.pack('<Q',len(t))+t+b[8+n:])\"");
  };
  const std::string first_tensor = "k=sorted(x for x in h if x!='__metadata__')[0]";
  return {
      // The command line itself.
      {"", "frobnicate", 2, {"unknown command 'frobnicate'", "train"}},
      {"", "eval frob", 2, {"unknown command 'frob'", "ppl", "passkey", "gates"}},
      {"", "tokenizer frob", 2, {"expected one of train"}},
      {"", "data frob", 2, {"expected one of prepare"}},
      {"", "", 0, {"usage", "train"}},
      {"", "eval", 0, {"usage", "ppl"}},
      {"", "--version", 0, {"infini"}},
      {"", "train", 2, {"--config"}},
      {"", "train --config nope.yaml", 2, {"nope.yaml"}},
      {"", "train --config tiny.yaml --nonsense", 2, {"--nonsense"}},
      // train: config values and sizes.
      {"", s("train " + kTrain + "r1 --set train.steps=abc"), 2, {"train.steps"}, true},
      {"", s("train " + kTrain + "r1 --set nokey.x=1"), 2, {"nokey"}, true},
      {"", s("train " + kTrain + "r1 --set model.hidden_size=-5"), 2, {"hidden_size"}, true},
      {"", s("train " + kTrain + "r1 --set model.hidden_size=1048576"), 2, {"needs at least", "GiB", "available"}, true},
      {"", s("train " + kTrain + "r1 --set model.num_hidden_layers=1000000"), 2, {"needs at least", "GiB"}, true},
      {"", s("train " + kTrain + "r1 --set model.infini_attention.segment_length=100000000"), 2, {"needs at least"}, true},
      {"", s("train " + kTrain + "r1 --stop-at-step -1"), 2, {"--stop-at-step", "whole number"}},
      {"", s("train " + kTrain + "r1 --threads -1"), 2, {"--threads", "from 0 to"}},
      {"", s("train " + kTrain + "r1 --progress sometimes"), 2, {"--progress"}},
      {"", s("train " + kTrain + "r1 --set data.train=missing-docs"), 2, {"missing-docs"}, true},
      {"", s("train " + kTrain + "r1 --resume no-such-checkpoint"), 2, {"no-such-checkpoint"}, true},
      // train: a fresh run never starts over another run's checkpoints.
      {"", s("train " + kTrain + "run"), 2, {"run", "already holds a run", "--resume auto", "--force"}},
      // train: trainer_state.json is input too.
      {state_edit("j['step']='x'"), s("train " + kTrain + "run --resume bad"), 2, {"trainer_state.json", "'step'"}},
      {state_edit("j['step']=1e30"), s("train " + kTrain + "run --resume bad"), 2, {"trainer_state.json", "'step'"}},
      {state_edit("j['optimizer_steps']=99"), s("train " + kTrain + "run --resume bad"), 2, {"'optimizer_steps'"}},
      {state_edit("j['rng']='zz'"), s("train " + kTrain + "run --resume bad"), 2, {"'rng'", "hex"}},
      {state_edit("j['loader']['cursor']=-1"), s("train " + kTrain + "run --resume bad"), 2, {"loader", "'cursor'"}},
      {state_edit("j['loader']['row_document']=[999999,-1]"), s("train " + kTrain + "run --resume bad"), 2,
       {"trainer_state.json", "document 999999"}},
      {state_edit("del j['tokens_seen']"), s("train " + kTrain + "run --resume bad"), 2, {"missing key 'tokens_seen'"}},
      {state_edit("j['world_size']=0"), s("train " + kTrain + "run --resume bad"), 2, {"'world_size'"}},
      // data the trainer and evaluator read.
      {"rm -rf sh && cp -r shards sh && rm sh/manifest.json", s("train " + kTrain + "r1 --set data.train=sh"), 2,
       {"sh", "manifest.json"}, true},
      {"rm -rf sh && cp -r shards sh && printf '\\377\\377' | dd of=sh/tokens-00000.bin bs=1 seek=4 conv=notrunc 2>/dev/null",
       s("train " + kTrain + "r1 --set data.train=sh"), 2, {"token id 65535", "vocabulary"}, true},
      {"rm -rf sh && cp -r shards sh && " + edit_json("sh/manifest.json", "j['shards']=5"),
       s("train " + kTrain + "r1 --set data.train=sh"), 2, {"manifest.json", "'shards'"}, true},
      // generate: numbers and files.
      {"", "generate --checkpoint ckpt --prompt hi --temperature nan", 2, {"--temperature", "got 'nan'"}},
      {"", "generate --checkpoint ckpt --prompt hi --temperature -1", 2, {"--temperature"}},
      {"", "generate --checkpoint ckpt --prompt hi --top-p 0", 2, {"--top-p", "above 0"}},
      {"", "generate --checkpoint ckpt --prompt hi --top-p 1.5", 2, {"--top-p"}},
      {"", "generate --checkpoint ckpt --prompt hi --max-new-tokens 99999999999", 2, {"--max-new-tokens"}},
      {"", "generate --checkpoint ckpt --prompt hi --threads 5000", 2, {"--threads"}},
      {"", "generate --checkpoint ckpt", 2, {"--prompt"}},
      {"", "generate --checkpoint ckpt --prompt-file missing.txt", 2, {"missing.txt"}},
      {"", "generate --checkpoint no-such-dir --prompt hi", 2, {"no-such-dir"}},
      // checkpoints: config.json and safetensors are input.
      {ckpt_edit("j['hidden_size']=64.5"), "generate --checkpoint bad --prompt hi", 2, {"config.json", "'hidden_size'", "whole number"}},
      {ckpt_edit("j['vocab_size']=1e30"), "generate --checkpoint bad --prompt hi", 2, {"'vocab_size'"}},
      {s(std::string(copy_ckpt) + "sed -i 's/\"hidden_size\": *64/\"hidden_size\": 99999999999999999999/' bad/config.json"),
       "eval gates --checkpoint bad", 2, {"'hidden_size'"}},
      {ckpt_edit("j['vocab_size']=100"), "generate --checkpoint bad --prompt hi", 2, {"tokenizer.model", "pieces", "vocab_size"}},
      {ckpt_edit("j['infini_attention']['kind']='weird'"), "eval gates --checkpoint bad", 2, {"weird"}},
      {tensors_edit(std::string(first_tensor) + ";h[k]['dtype']='I32'"), "eval gates --checkpoint bad", 2,
       {"model.safetensors", "floating point"}},
      {tensors_edit(std::string(first_tensor) + ";h[k]['data_offsets']=[0,8]"), "eval gates --checkpoint bad", 2,
       {"model.safetensors", "data_offsets"}},
      {tensors_edit(std::string(first_tensor) + ";h[k]['shape']=[4294967296,4294967296,4294967296]"),
       "eval gates --checkpoint bad", 2, {"model.safetensors"}},
      {s(std::string(copy_ckpt) + "truncate -s 100 bad/model.safetensors"), "eval gates --checkpoint bad", 2, {"truncated"}},
      {s(std::string(copy_ckpt) + "rm bad/tokenizer.model"), "generate --checkpoint bad --prompt hi", 2, {"tokenizer.model"}},
      // eval ppl
      {"", "eval ppl --checkpoint ckpt --data doc.txt --bucket-width 0", 2, {"--bucket-width"}},
      {"", "eval ppl --checkpoint ckpt --data doc.txt --segment-length -1", 2, {"--segment-length"}},
      {"", "eval ppl --checkpoint ckpt --data doc.txt --max-documents -3", 2, {"--max-documents"}},
      {"", "eval ppl --checkpoint ckpt --data missing.txt", 2, {"missing.txt"}},
      {"", "eval ppl --checkpoint ckpt --data doc.txt --out adir", 2, {"adir", "is a directory"}},
      {"", "eval ppl --checkpoint ckpt --data doc.txt --no-memory --memory-ablation", 2, {"choose one"}},
      {"", "eval ppl --checkpoint ckpt --data badutf8", 2, {"badutf8", "no document left", "UTF-8"}},
      {"rm -rf sh && cp -r shards sh && rm sh/manifest.json", "eval ppl --checkpoint ckpt --data sh", 2, {"manifest.json"}},
      // eval passkey and gates
      {"", "eval passkey --checkpoint ckpt --keys 0", 2, {"--keys"}},
      {"", "eval passkey --checkpoint ckpt --lengths 1K --depths 2", 2, {"depth"}},
      {"", "eval passkey --checkpoint ckpt --layout sideways", 2, {"--layout"}},
      {"", "eval passkey --checkpoint ckpt --lengths 10 --out adir", 2, {"adir"}},
      {"", "eval gates --checkpoint ckpt --out adir", 2, {"adir", "is a directory"}},
      {"", "eval gates --checkpoint no-such-dir", 2, {"no-such-dir"}},
      // report: result files are input.
      {"", "report doc.txt --out rep", 2, {"doc.txt", "not JSON"}},
      {"echo '[]' > empty.json", "report empty.json --out rep", 2, {"empty.json", "empty list"}},
      {"echo '{\"kind\":\"x\",\"checkpoint\":\"a\"}' > x.json", "report x.json --out rep", 2, {"x.json", "\"kind\" is \"x\""}},
      {s("cp gates.json g2.json && " + edit_json("g2.json", "j['gates'][0]['mean']='high'")), "report g2.json --out rep", 2,
       {"g2.json", "'mean'"}},
      {s("cp gates.json g2.json && " + edit_json("g2.json", "j['gates']=[]")), "report g2.json --out rep", 2,
       {"g2.json", "'gates'"}},
      {"echo '{\"kind\":\"ppl\",\"checkpoint\":\"a\",\"segment_length\":4}' > p.json", "report p.json --out rep", 2,
       {"p.json", "'model'"}},
      {"", "report gates.json --out docs", 2, {"docs", "not an earlier report"}},
      // tokenizer train
      {"", "tokenizer train --input doc.txt --vocab-size 5 --out t.model", 2, {"--vocab-size", "from 16"}},
      {"", "tokenizer train --input doc.txt --vocab-size 100 --out adir", 2, {"adir", "is a directory"}},
      {"", "tokenizer train --input empty.txt --vocab-size 100 --out t.model", 2, {"empty.txt", "no text"}},
      {"", "tokenizer train --input doc.txt --vocab-size 1000000 --out t.model", 2, {"doc.txt", "at most"}},
      {"", "tokenizer train --input missing.txt --vocab-size 100 --out t.model", 2, {"missing.txt"}},
      {"", "tokenizer train --input doc.txt --vocab-size 100 --model-type wordpiece --out t.model", 2, {"wordpiece"}},
      // data prepare
      {"", "data prepare --tokenizer tok.model --input badutf8 --out prepared", 2, {"badutf8", "no document left"}},
      {"", "data prepare --tokenizer tok.model --input docs --out prepared --threads -2", 2, {"--threads"}},
      {"", "data prepare --tokenizer tok.model --input docs --out prepared --shard-tokens 0", 2, {"--shard-tokens"}},
      {"", "data prepare --tokenizer missing.model --input docs --out prepared", 2, {"missing.model"}},
      {"echo garbage > junk.model", "data prepare --tokenizer junk.model --input docs --out prepared", 2,
       {"junk.model", "not a SentencePiece model"}},
      {"", "data prepare --tokenizer tok.model --input docs --out doc.txt", 2, {"doc.txt"}},
      // launch
      {"", "launch --nproc 2 --master-port 99999 -- true", 2, {"--master-port"}},
      {"", "launch --nproc 0 -- true", 2, {"--nproc"}},
      {"", "launch --nproc 99999 -- true", 2, {"--nproc"}},
      {"", s("launch --nproc 2 -- " + std::string(INFINI_BINARY) + " train --config nope.yaml"), 2, {"nope.yaml"}},
      // init and convert never replace what exists without --force.
      {"", "init --config tiny.yaml --tokenizer tok.model --out ckpt", 2, {"ckpt", "--force"}},
      {"", "init --config tiny.yaml --tokenizer tok.model --out new --set model.num_attention_heads=3", 2, {"heads"}},
      {"", "convert --from no-such-dir --to converted", 2, {"no-such-dir"}},
      {"", "convert --from ckpt --to run", 2, {"run"}},
      {"", "convert --from ckpt --to converted --set model.infini_attention.kind=weird", 2, {"weird"}},
  };
}

// Every file under `root` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const auto relative = fs::relative(it->path(), root).string();
    if (it->is_symlink()) {
      files[relative] = "-> " + fs::read_symlink(it->path()).string();
    } else if (it->is_regular_file()) {
      files[relative] = read_text(it->path().string());
    } else {
      files[relative] = "(directory)";
    }
  }
  return files;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new infini::test::TempDir();
    const std::string w = work_->path();
    fs::copy_file(infini::test::shared_tokenizer(), w + "/tok.model");
    fs::copy_file(std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml", w + "/tiny.yaml");
    fs::create_directories(w + "/docs");
    fs::create_directories(w + "/badutf8");
    fs::create_directories(w + "/adir");
    for (int i = 0; i < 6; ++i) write_text(w + "/docs/d" + std::to_string(i) + ".txt", infini::test::generated_text(300, 7 + i));
    write_text(w + "/doc.txt", infini::test::generated_text(200, 3));
    write_text(w + "/empty.txt", "");
    write_text(w + "/badutf8/a.txt", "caf\xc3 au lait");
    write_text(w + "/badutf8/b.txt", "\xff\xfe nothing valid");
    const std::vector<std::string> make = {
        "init --config tiny.yaml --tokenizer tok.model --out ckpt",
        "train " + kTrain + "run --set train.save_every=2",
        "data prepare --tokenizer tok.model --input docs --out shards",
        "eval gates --checkpoint ckpt --out gates.json",
    };
    for (const auto& args : make) {
      const auto command = "cd " + w + " && " + INFINI_BINARY + " " + args + " >/dev/null 2>&1";
      ASSERT_EQ(std::system(command.c_str()), 0) << args;
    }
  }
  static void TearDownTestSuite() {
    delete work_;
    work_ = nullptr;
  }
  static infini::test::TempDir* work_;
};

infini::test::TempDir* BadInput::work_ = nullptr;

TEST_F(BadInput, EveryCaseEndsInOneClearLineAndChangesNothing) {
  const auto table = cases();
  ASSERT_GE(table.size(), 60u);
  const fs::path w = work_->path();
  for (const auto& c : table) {
    SCOPED_TRACE("infini " + c.args);
    if (!c.setup.empty()) ASSERT_EQ(std::system(("cd " + w.string() + " && " + c.setup).c_str()), 0) << c.setup;
    const auto before = snapshot(w);
    const std::string command = "cd " + w.string() + " && " + INFINI_BINARY + " " + c.args + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    const int raw = ::pclose(pipe);
    const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    EXPECT_EQ(status, c.status) << output;
    for (const auto* word : c.words) EXPECT_NE(lower(output).find(lower(word)), std::string::npos) << word << "\n" << output;
    for (const auto* internal : {"frame #", "what():", "Exception raised from", "c10::", "json.exception", "Internal:",
                                 "basic_string", "std::"}) {
      EXPECT_EQ(output.find(internal), std::string::npos) << internal << "\n" << output;
    }
    if (c.status == 2) {
      // The message is the last line and starts with "infini".
      auto trimmed = output;
      while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
      const auto last = trimmed.substr(trimmed.rfind('\n') == std::string::npos ? 0 : trimmed.rfind('\n') + 1);
      EXPECT_EQ(last.rfind("infini", 0), 0u) << output;
    }
    const auto after = snapshot(w);
    for (const auto& [file, bytes] : before) {
      const auto found = after.find(file);
      EXPECT_TRUE(found != after.end() && found->second == bytes) << file << " was changed or removed";
    }
    if (!c.new_files_allowed) {
      for (const auto& [file, bytes] : after) EXPECT_TRUE(before.count(file)) << file << " was left behind";
    }
    // What a case may create (a run directory's cache) goes before the next case.
    for (const auto& [file, bytes] : after) {
      if (!before.count(file)) fs::remove_all(w / file);
    }
  }
}

}  // namespace
