// A directory written as a whole or not at all.
//
// Files go into a staging directory beside the target; commit() flushes them and swaps the
// staging directory into place with one rename (renameat2 RENAME_EXCHANGE when the target exists).
// A crash at any moment leaves the old or the new directory whole; a writer destroyed without
// commit() removes its staging directory.
#pragma once

#include <string>
#include <vector>

namespace infini {

class StagedDirectory {
 public:
  explicit StagedDirectory(std::string target);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  const std::string& staging() const { return staging_; }
  // staging() + "/" + name
  std::string path(const std::string& name) const { return staging_ + "/" + name; }
  void write_text(const std::string& name, const std::string& text);
  void copy_file(const std::string& name, const std::string& source);
  void commit();

 private:
  std::string target_;
  std::string staging_;
  bool committed_ = false;
};

// Removes the staging directories under `parent` ("NAME.staging-PID") whose writing process is no
// longer alive: what a writer killed mid-way left. Returns their paths.
std::vector<std::string> remove_stale_staging(const std::string& parent);

}  // namespace infini
