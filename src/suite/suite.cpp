#include "fas/suite/suite.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/core/process.h"
#include "fas/engine/train_config.h"
#include "fas/fusion/fusion.h"
#include "fas/tasks/ser/ser_task.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// The cells of a sweep: every combination of its grid's values, keys in the grid's (sorted) order.
std::vector<std::vector<std::pair<std::string, std::string>>> GridCells(const SuiteSweep& sweep) {
  std::vector<std::vector<std::pair<std::string, std::string>>> cells = {{}};
  for (const auto& [key, values] : sweep.grid) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& c : cells) {
      for (const auto& v : values) {
        auto e = c;
        e.emplace_back(key, v);
        next.push_back(std::move(e));
      }
    }
    cells = std::move(next);
  }
  return cells;
}

// k_aco4-k_sem16: the last component of each key and its value, a folder name and a readable label.
std::string CellName(const std::vector<std::pair<std::string, std::string>>& cell) {
  std::string s;
  for (const auto& [key, value] : cell) {
    const auto dot = key.rfind('.');
    std::string part = (dot == std::string::npos ? key : key.substr(dot + 1)) + value;
    for (char& c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
    }
    s += (s.empty() ? "" : "-") + part;
  }
  return s;
}

// The resolved config as text with the run's identity (name, seed) left out: equal text = the same training.
std::string TrainingIdentity(ExperimentConfig cfg) {
  cfg.name.clear();
  cfg.seed = 0;
  return ConfigToString(cfg);
}

SuiteCell MakeCell(const SuiteConfig& suite, const SuiteModel& model, const std::string& runs_dir, uint64_t seed,
                   const std::string& sweep, const std::vector<std::pair<std::string, std::string>>& grid) {
  SuiteCell c;
  c.model = model.name;
  c.sweep = sweep;
  c.cell = grid.empty() ? "" : CellName(grid);
  c.run_name = c.cell.empty() ? model.name : model.name + "@" + c.cell;
  c.seed = seed;
  fs::path dir = fs::path(runs_dir) / model.name;
  if (!c.cell.empty()) dir /= c.cell;
  c.run_dir = (dir / ("seed" + std::to_string(seed))).string();
  c.config_files = model.config;
  // Order: the suite's data and evaluation sets, its general overrides, the model's, the sweep cell's, and the
  // run's identity last, so that nothing in a config can move a run out of its folder.
  if (!suite.data.root.empty()) c.sets.push_back("data.root=" + suite.data.root);
  c.sets.push_back("data.train=" + suite.data.train);
  c.sets.push_back("data.dev=" + suite.data.dev);
  if (!suite.data.label_map.empty()) c.sets.push_back("data.label_map=" + suite.data.label_map);
  if (suite.data.skip_bad) c.sets.push_back("data.skip_bad=true");
  if (!suite.eval.empty()) {
    std::string evals = "eval=[";
    for (size_t i = 0; i < suite.eval.size(); ++i) {
      evals += (i ? ", " : "") + std::string("{name: ") + suite.eval[i].name + ", manifest: " +
               suite.eval[i].manifest + "}";
    }
    c.sets.push_back(evals + "]");
  }
  c.sets.insert(c.sets.end(), suite.set.begin(), suite.set.end());
  // {runs} and {seed} let a model start from another model's run of the same seed (model.*.init_from).
  for (std::string a : model.set) {
    for (const auto& [tag, value] : {std::pair<std::string, std::string>{"{runs}", runs_dir},
                                     std::pair<std::string, std::string>{"{seed}", std::to_string(seed)}}) {
      for (size_t at; (at = a.find(tag)) != std::string::npos;) a.replace(at, tag.size(), value);
    }
    c.sets.push_back(a);
  }
  for (const auto& [key, value] : grid) c.sets.push_back(key + "=" + value);
  c.sets.push_back("name=" + c.run_name);
  c.sets.push_back("seed=" + std::to_string(seed));
  try {
    c.config = LoadExperimentConfig(c.config_files, c.sets);
  } catch (const ConfigError& e) {
    throw ConfigError("suite '" + suite.name + "', model '" + model.name + "'" +
                      (c.cell.empty() ? "" : " (sweep cell " + c.cell + ")") + " [" + Join(c.config_files, ", ") +
                      "]: " + e.what());
  }
  return c;
}

bool Exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// Files a resolved config points at: encoder weights and configs, tokenizers, a label set.
void FilesOf(const ConfigNode& node, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  if (node.kind == ConfigNode::Kind::kMap) {
    for (const auto& [k, v] : node.map) FilesOf(v, path.empty() ? k : path + "." + k, out);
    return;
  }
  if (node.kind != ConfigNode::Kind::kScalar || node.scalar.empty()) return;
  const std::string key = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  auto ends_with = [&](const std::string& tail) {
    return path.size() >= tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
  };
  const bool is_file = key == "weights" || key == "hf_config" || path == "data.labels" ||
                       ends_with("tokenizer.model") || ends_with("text.tokenizer");
  if (is_file) out.emplace_back(path, node.scalar);
}

// Whether a file the resolved config names is read when the cell trains: a pathway its head does not read is never
// built, and within a pathway only the section of the encoder in use counts (MingTok-Audio's own section replaces
// model.acoustic.encoder's files; Whisper's section and the text encoder's exclude each other).
bool ReadByTheModel(const ExperimentConfig& cfg, const std::string& key) {
  auto under = [&](const std::string& prefix) { return key.rfind(prefix, 0) == 0; };
  const HeadStreams streams = FusionHeadStreams(cfg.model.head);
  if (under("model.acoustic.")) {
    const bool own_section = cfg.model.acoustic.encoder.type == "mingtok_audio";
    if (!streams.acoustic) return false;
    if (under("model.acoustic.mingtok_audio.")) return own_section;
    if (under("model.acoustic.encoder.")) return !own_section;
  }
  if (under("model.semantic.")) {
    const bool whisper = cfg.model.semantic.type == "whisper";
    if (!streams.semantic) return false;
    if (under("model.semantic.whisper.")) return whisper;
    if (under("model.semantic.text.") || under("model.semantic.tokenizer.")) return !whisper;
  }
  return true;
}

// The manifest's audio files that do not exist (relative paths are relative to the manifest's folder).
std::vector<std::string> MissingAudio(const std::string& manifest, size_t& total) {
  std::vector<std::string> missing;
  std::ifstream in(manifest);
  const fs::path base = fs::path(manifest).parent_path();
  total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("audio") || !j["audio"].is_string()) continue;
    ++total;
    const fs::path audio = j["audio"].get<std::string>();
    const fs::path p = audio.is_absolute() ? audio : base / audio;
    if (!Exists(p.string())) missing.push_back(p.string());
  }
  return missing;
}

std::string Hint(const SuiteConfig& suite) {
  if (suite.data.hint.empty()) return "";
  std::string h = suite.data.hint;
  for (size_t at; (at = h.find("{root}")) != std::string::npos;) h.replace(at, 6, suite.data.root);
  return "; " + h;
}

// --- running a cell in its own process ----------------------------------------------------------------------

// Runs a cell's `fas train` to completion with SIGINT / SIGTERM passed on to it (it saves `last` and exits 130);
// `stop_asked` says whether one arrived meanwhile.
ExitStatus RunChild(const std::vector<std::string>& argv, bool& stop_asked) {
  StopSignalForwarder forward;
  Process child = Process::Spawn(argv);
  forward.Forward(child.pid());
  const ExitStatus status = child.Wait();
  stop_asked = forward.stopped();
  return status;
}

bool HasCheckpoint(const std::string& run_dir) {
  return Exists(run_dir + "/checkpoints/last") && !fs::is_empty(run_dir + "/checkpoints/last");
}

}  // namespace

void SuiteConfig::Validate() const {
  if (name.empty() || name.find('/') != std::string::npos) throw ConfigError("suite name must be a plain name");
  if (models.empty()) throw ConfigError("suite '" + name + "' names no models");
  if (seeds.empty()) throw ConfigError("suite '" + name + "': seeds must list at least one seed");
  if (std::set<uint64_t>(seeds.begin(), seeds.end()).size() != seeds.size()) {
    throw ConfigError("suite '" + name + "': a seed is listed twice");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    const std::string where = "models[" + std::to_string(i) + "]";
    if (m.name.empty() || m.name.find_first_of("/@ ") != std::string::npos || m.name[0] == '.') {
      throw ConfigError(where + ".name " + Quote(m.name) + " must be a plain folder name without '@'");
    }
    if (!names.insert(m.name).second) throw ConfigError(where + ".name " + Quote(m.name) + " is used twice");
    if (m.config.empty()) throw ConfigError(where + " (" + m.name + ") names no config file");
  }
  for (size_t i = 0; i < sweeps.size(); ++i) {
    const auto& s = sweeps[i];
    const std::string where = "sweeps[" + std::to_string(i) + "]";
    if (!names.count(s.model)) {
      throw ConfigError(where + ".model " + Quote(s.model) + " is not one of the suite's models");
    }
    if (s.grid.empty()) throw ConfigError(where + " (" + s.name + ") has an empty grid");
    for (const auto& [k, v] : s.grid) {
      if (v.empty()) throw ConfigError(where + ".grid." + k + " lists no values");
    }
  }
  for (size_t i = 0; i < comparisons.size(); ++i) {
    const auto& pair = comparisons[i];
    const std::string where = "comparisons[" + std::to_string(i) + "]";
    if (pair.size() != 2 || pair[0] == pair[1]) {
      throw ConfigError(where + " must name two different models, [A, B]");
    }
    for (const auto& m : pair) {
      if (!names.count(m)) throw ConfigError(where + ": " + Quote(m) + " is not one of the suite's models");
    }
  }
}

SuiteConfig LoadSuite(const std::string& path, const std::vector<std::string>& sets) {
  if (!Exists(path)) throw ConfigError("suite file '" + path + "' not found");
  SuiteConfig suite = BindConfig<SuiteConfig>(LoadConfigTree({path}, sets));
  const fs::path dir = fs::path(path).parent_path();
  for (auto& m : suite.models) {
    for (auto& f : m.config) {
      if (fs::path(f).is_absolute()) continue;
      const fs::path beside = dir / f;
      if (Exists(beside.string())) f = beside.lexically_normal().string();
    }
  }
  suite.Validate();
  return suite;
}

std::vector<SuiteCell> PlanSuite(const SuiteConfig& suite, const std::string& runs_dir) {
  std::vector<SuiteCell> cells;
  std::set<std::string> own;  // training identities of the models' own runs, every seed
  for (const auto& m : suite.models) {
    for (uint64_t seed : suite.seeds) {
      cells.push_back(MakeCell(suite, m, runs_dir, seed, "", {}));
      own.insert(TrainingIdentity(cells.back().config));
    }
  }
  std::set<std::string> planned;
  for (const auto& sweep : suite.sweeps) {
    const auto model = std::find_if(suite.models.begin(), suite.models.end(),
                                    [&](const SuiteModel& m) { return m.name == sweep.model; });
    for (const auto& grid : GridCells(sweep)) {
      for (uint64_t seed : suite.seeds) {
        SuiteCell c = MakeCell(suite, *model, runs_dir, seed, sweep.name, grid);
        // The model's own settings, or a cell another sweep already trains: the existing run stands for it.
        if (own.count(TrainingIdentity(c.config)) > 0 || !planned.insert(c.run_dir).second) continue;
        cells.push_back(std::move(c));
      }
    }
  }
  return cells;
}

bool CellFinished(const SuiteCell& cell) {
  for (const auto& e : cell.config.eval) {
    if (!Exists(cell.run_dir + "/eval/" + e.name + "/results.json")) return false;
  }
  return !cell.config.eval.empty() || Exists(cell.run_dir + "/checkpoints/best");
}

std::string CellConfigDrift(const SuiteCell& cell) {
  if (!Exists(cell.run_dir + "/config.yaml")) return "";
  // The plan keys count here: a cell trained for fewer steps is not the cell the suite asks for.
  const auto [given, stored] = ComparableRunConfigs(cell.config, LoadRunConfig(cell.run_dir), false);
  const auto diff = FirstDifferentLine(given, stored);
  return diff ? "the suite now says '" + diff->first + "', the run has '" + diff->second + "'" : "";
}

std::vector<std::string> CheckSuiteInputs(const SuiteConfig& suite, const std::vector<SuiteCell>& cells) {
  std::vector<std::string> problems;
  std::set<std::string> seen;
  // (config key, file) -> (models, config files) that want it: one message a missing file.
  std::map<std::pair<std::string, std::string>, std::pair<std::vector<std::string>, std::vector<std::string>>>
      missing_files;
  auto once = [&](const std::string& key, const std::string& message) {
    if (seen.insert(key).second) problems.push_back(message);
  };
  // Without the corpus folder every manifest in it is missing too: one message says so.
  const bool no_root = !suite.data.root.empty() && !Exists(suite.data.root);
  if (no_root) {
    once("root", "data: the corpus folder '" + suite.data.root + "' does not exist" + Hint(suite) +
                     " (or point the suite at it with --set data.root=DIR)");
  }
  for (const auto& c : cells) {
    if (CellFinished(c)) continue;
    const ExperimentConfig& cfg = c.config;
    std::vector<std::pair<std::string, std::string>> manifests = {{"data.train", cfg.data.train},
                                                                  {"data.dev", cfg.data.dev}};
    for (const auto& e : cfg.eval) manifests.emplace_back("eval " + e.name, e.manifest);
    for (const auto& [what, m] : no_root ? decltype(manifests){} : manifests) {
      const std::string path = cfg.data.Resolve(m);
      if (!Exists(path)) {
        once("manifest:" + path, what + ": manifest '" + path + "' does not exist (suite '" + suite.name +
                                     "')" + Hint(suite));
        continue;
      }
      if (seen.count("audio:" + path)) continue;
      size_t total = 0;
      const auto missing = MissingAudio(path, total);
      if (!missing.empty() && !suite.data.skip_bad) {
        once("audio:" + path, what + ": " + std::to_string(missing.size()) + " of " + std::to_string(total) +
                                  " audio files of '" + path + "' are missing (first: " + missing.front() +
                                  "); the corpus is incomplete" + Hint(suite));
      } else {
        seen.insert("audio:" + path);
      }
    }
    // A run another model starts from must exist or be trained earlier in this suite.
    const std::vector<std::pair<std::string, std::string>> starts = {
        {"model.acoustic.init_from", cfg.model.acoustic.init_from},
        {"model.semantic.init_from", cfg.model.semantic.init_from}};
    for (const auto& [key, from] : starts) {
      if (from.empty() || Exists(from)) continue;
      const bool earlier = std::any_of(cells.begin(), cells.begin() + (&c - cells.data()),
                                       [&](const SuiteCell& o) { return fs::path(o.run_dir) == fs::path(from); });
      if (!earlier) {
        once("init:" + from, key + " = '" + from + "' (model " + c.model + ") is neither a run folder nor a run " +
                                 "this suite trains before it; list that model earlier or fix the path");
      }
    }
    std::vector<std::pair<std::string, std::string>> files;
    ExperimentConfig printed = cfg;
    FilesOf(ParseYaml(ConfigToString(printed), "resolved config"), "", files);
    for (const auto& [key, file] : files) {
      if (Exists(file) || !ReadByTheModel(cfg, key)) continue;
      auto& [models, configs] = missing_files[{key, file}];
      if (std::find(models.begin(), models.end(), c.model) == models.end()) models.push_back(c.model);
      for (const auto& f : c.config_files) {
        if (std::find(configs.begin(), configs.end(), f) == configs.end()) configs.push_back(f);
      }
    }
  }
  for (const auto& [what, who] : missing_files) {
    const auto& [key, file] = what;
    problems.push_back(key + " = '" + file + "' does not exist (models " + Join(who.first, ", ") + "; configs " +
                       Join(who.second, ", ") + "); download or convert it (docs/corpora.md says where each "
                       "checkpoint comes from), or change " + key + " in the config");
  }
  return problems;
}

SuiteRunSummary RunSuite(const std::vector<SuiteCell>& cells, const SuiteRunOptions& options) {
  SuiteRunSummary summary;
  summary.total = static_cast<int>(cells.size());
  auto say = [&](const std::string& s) {
    if (options.on_message) options.on_message(s);
  };
  // A run trained with other settings must not stand for its cell, finished or not: refuse before training anything.
  for (const SuiteCell& c : cells) {
    if (const std::string drift = CellConfigDrift(c); !drift.empty()) {
      throw ConfigError("suite cell " + c.run_name + " seed " + std::to_string(c.seed) + ": the settings changed " +
                        "since " + c.run_dir + " was trained (" + drift + "); delete that folder to train the cell " +
                        "with the new settings, or give the suite its old settings back");
    }
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    const SuiteCell& c = cells[i];
    const std::string label = "cell " + std::to_string(i + 1) + "/" + std::to_string(cells.size()) + " " +
                              c.run_name + " seed " + std::to_string(c.seed);
    if (CellFinished(c)) {
      ++summary.finished_before;
      continue;
    }
    if (options.max_cells >= 0 && summary.trained >= options.max_cells) {
      say("stopping after " + std::to_string(summary.trained) + " cell(s) (--max-cells); run again to continue");
      return summary;
    }
    const bool resume = HasCheckpoint(c.run_dir);
    if (!resume) {
      // Nothing worth keeping (a run stopped before its first checkpoint): start clean so that no stale
      // metrics.jsonl lines survive into the new run.
      std::error_code ec;
      fs::remove_all(c.run_dir, ec);
    }
    fs::create_directories(c.run_dir);
    const std::string cell_config = c.run_dir + "/suite_cell.yaml";
    {
      ExperimentConfig printed = c.config;
      std::ofstream out(cell_config, std::ios::trunc);
      out << "# Written by fas reproduce: the resolved config of this suite cell (files: " << Join(c.config_files, ", ")
          << "; set: " << Join(c.sets, " ") << ")\n"
          << ConfigToString(printed);
      if (!out) throw IoError("cannot write " + cell_config);
    }
    std::vector<std::string> argv = {options.fas_binary, "train", "--run-dir", c.run_dir};
    if (resume) {
      argv.push_back("--resume");
    } else {
      argv.insert(argv.end(), {"--config", cell_config});
    }
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    say(label + (resume ? ": resuming in " : ": training in ") + c.run_dir);
    bool stop_asked = false;
    const ExitStatus status = RunChild(argv, stop_asked);
    // 130: the run stopped on a signal after saving checkpoints/last (main.cpp's Interrupted).
    const bool stopped = stop_asked || status.signal != 0 || status.exited(130);
    if (stopped) {
      throw Interrupted("suite stopped during " + label + " (" + c.run_dir + "); run the same fas reproduce "
                        "command again to resume it");
    }
    if (!status.ok()) {
      throw Error(label + " failed (" + status.Describe() + "); see " + c.run_dir +
                  "/train.log; finished cells are kept, so running the suite again continues after them");
    }
    if (!CellFinished(c)) {
      throw Error(label + ": training ended without the results of every evaluation set in " + c.run_dir + "/eval");
    }
    ++summary.trained;
  }
  summary.complete = true;
  return summary;
}

}  // namespace fas
