#include "fas/io/torch_pickle.h"

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "fas/core/error.h"

namespace fas {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kTensor, kMark };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;                // a string, or a global's "module.name"
  std::vector<ValuePtr> items;  // tuple / list; a dict's keys and values, alternating
  torch::Tensor tensor;         // a tensor, or a storage (1-D, its dtype)
};

ValuePtr Make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

// torch.save names a storage by its typed class; the untyped one (newer torch) is bytes.
torch::ScalarType StorageDtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.HalfStorage", torch::kFloat16},  {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},    {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},   {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},    {"torch.BoolStorage", torch::kBool},
      {"torch.UntypedStorage", torch::kUInt8}};
  const auto it = types.find(global);
  if (it == types.end()) throw IoError("unsupported storage type '" + global + "'");
  return it->second;
}

bool IsStorageGlobal(const std::string& global) {
  return global.rfind("torch.", 0) == 0 && global.size() > 13 && global.compare(global.size() - 7, 7, "Storage") == 0;
}

class Unpickler {
 public:
  Unpickler(caffe2::serialize::PyTorchStreamReader& zip, const char* data, size_t size)
      : zip_(zip), p_(data), end_(data + size) {}

  ValuePtr Run() {
    while (true) {
      const uint8_t op = Byte();
      switch (op) {
        case 0x80:
          Byte();
          break;  // PROTO
        case 0x95:
          Skip(8);
          break;  // FRAME
        case '.':
          return Pop();  // STOP
        case '(':
          stack_.push_back(Make(Value::Kind::kMark));
          break;
        case 'N':
          stack_.push_back(Make(Value::Kind::kNone));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = Make(Value::Kind::kBool);
          v->i = op == 0x88;
          stack_.push_back(v);
          break;
        }
        case 'K':
          PushInt(Byte());
          break;  // BININT1
        case 'M':
          PushInt(Unsigned(2));
          break;  // BININT2
        case 'J':
          PushInt(static_cast<int32_t>(Unsigned(4)));
          break;
        case 0x8a:
          PushInt(Long(Byte()));
          break;  // LONG1
        case 'G':
          PushFloat();
          break;  // BINFLOAT
        case 'X':
          PushString(Unsigned(4));
          break;  // BINUNICODE
        case 0x8c:
          PushString(Byte());
          break;  // SHORT_BINUNICODE
        case 'U':
          PushString(Byte());
          break;  // SHORT_BINSTRING
        case 'T':
          PushString(Unsigned(4));
          break;  // BINSTRING
        case '}':
          stack_.push_back(Make(Value::Kind::kDict));
          break;
        case ']':
          stack_.push_back(Make(Value::Kind::kList));
          break;
        case ')':
          stack_.push_back(Make(Value::Kind::kTuple));
          break;
        case 't':
          PushTuple(PopToMark());
          break;
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          if (stack_.size() < n) Fail("stack underflow");
          std::vector<ValuePtr> items(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          PushTuple(std::move(items));
          break;
        }
        case 'q':
          memo_[Byte()] = Top();
          break;  // BINPUT
        case 'r':
          memo_[Unsigned(4)] = Top();
          break;
        case 0x94:
          memo_[memo_.size()] = Top();
          break;  // MEMOIZE
        case 'h':
          stack_.push_back(Memo(Byte()));
          break;
        case 'j':
          stack_.push_back(Memo(Unsigned(4)));
          break;
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string module = Line(), name = Line();
          PushGlobal(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const ValuePtr name = Pop(), module = Pop();
          PushGlobal(module->s + "." + name->s);
          break;
        }
        case 'Q':
          stack_.push_back(Storage(Pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          const ValuePtr args = Pop(), callable = Pop();
          stack_.push_back(Call(*callable, *args));
          break;
        }
        case 'b': {  // BUILD: an OrderedDict's attributes (_metadata): not weights
          Pop();
          if (Top()->kind != Value::Kind::kDict) Fail("BUILD on something other than a dict");
          break;
        }
        case 's': {  // SETITEM
          const ValuePtr value = Pop(), key = Pop();
          AddItems(*Top(), {key, value});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = PopToMark();
          AddItems(*Top(), items);
          break;
        }
        case 'a': {  // APPEND
          const ValuePtr value = Pop();
          AddItems(*Top(), {value});
          break;
        }
        case 'e': {  // APPENDS
          auto items = PopToMark();
          AddItems(*Top(), items);
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "0x%02x", op);
          Fail(std::string("unsupported pickle opcode ") + hex);
        }
      }
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const { throw IoError(what); }

  uint8_t Byte() {
    if (p_ >= end_) Fail("truncated pickle");
    return static_cast<uint8_t>(*p_++);
  }
  void Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Fail("truncated pickle");
    p_ += n;
  }
  uint64_t Unsigned(size_t bytes) {  // little-endian
    uint64_t v = 0;
    for (size_t k = 0; k < bytes; ++k) v |= static_cast<uint64_t>(Byte()) << (8 * k);
    return v;
  }
  int64_t Long(size_t bytes) {  // two's complement, little-endian, at most 8 bytes
    if (bytes > 8) Fail("integer wider than 64 bits");
    if (bytes == 0) return 0;
    uint64_t v = Unsigned(bytes);
    if (bytes < 8 && (v >> (8 * bytes - 1)) & 1) v |= ~uint64_t{0} << (8 * bytes);
    return static_cast<int64_t>(v);
  }
  std::string Line() {
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', end_ - p_));
    if (nl == nullptr) Fail("truncated pickle");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }
  void PushInt(int64_t i) {
    auto v = Make(Value::Kind::kInt);
    v->i = i;
    stack_.push_back(v);
  }
  void PushFloat() {
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | Byte();  // big-endian
    auto v = Make(Value::Kind::kFloat);
    std::memcpy(&v->f, &bits, sizeof(bits));
    stack_.push_back(v);
  }
  void PushString(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) Fail("truncated pickle");
    auto v = Make(Value::Kind::kString);
    v->s.assign(p_, n);
    p_ += n;
    stack_.push_back(v);
  }
  void PushTuple(std::vector<ValuePtr> items) {
    auto v = Make(Value::Kind::kTuple);
    v->items = std::move(items);
    stack_.push_back(v);
  }
  void PushGlobal(const std::string& name) {
    static const char* kAllowed[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                     "torch._utils._rebuild_parameter"};
    bool ok = IsStorageGlobal(name);
    for (const char* a : kAllowed) ok = ok || name == a;
    if (!ok) Fail("refused global '" + name + "': not part of a state dict of tensors (the file may run code)");
    auto v = Make(Value::Kind::kGlobal);
    v->s = name;
    stack_.push_back(v);
  }
  ValuePtr Pop() {
    if (stack_.empty()) Fail("stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const ValuePtr& Top() const {
    if (stack_.empty()) Fail("stack underflow");
    return stack_.back();
  }
  ValuePtr Memo(uint64_t key) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) Fail("unknown memo key");
    return it->second;
  }
  std::vector<ValuePtr> PopToMark() {
    size_t k = stack_.size();
    while (k > 0 && stack_[k - 1]->kind != Value::Kind::kMark) --k;
    if (k == 0) Fail("no MARK on the stack");
    std::vector<ValuePtr> items(stack_.begin() + k, stack_.end());
    stack_.resize(k - 1);
    return items;
  }
  void AddItems(Value& target, const std::vector<ValuePtr>& items) {
    if (target.kind == Value::Kind::kDict && items.size() % 2 != 0) Fail("odd number of dict items");
    if (target.kind != Value::Kind::kDict && target.kind != Value::Kind::kList) Fail("items added to a non-container");
    target.items.insert(target.items.end(), items.begin(), items.end());
  }

  // ('storage', storage type, key, location, numel): the bytes live in the archive as data/<key>.
  ValuePtr Storage(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Value::Kind::kGlobal || pid->items[2]->kind != Value::Kind::kString) {
      Fail("a persistent id that is not a tensor storage");
    }
    const std::string& key = pid->items[2]->s;
    const auto dtype = StorageDtype(pid->items[1]->s);
    auto cached = storages_.find(key);
    if (cached == storages_.end()) {
      const std::string record = "data/" + key;
      if (!zip_.hasRecord(record)) Fail("storage " + record + " is missing from the archive");
      auto [data, bytes] = zip_.getRecord(record);
      const int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
      auto t = torch::empty({static_cast<int64_t>(bytes) / item}, torch::dtype(dtype));
      std::memcpy(t.data_ptr(), data.get(), t.numel() * item);
      cached = storages_.emplace(key, t).first;
    }
    auto v = Make(Value::Kind::kTensor);
    v->tensor = cached->second;
    return v;
  }

  static std::vector<int64_t> Ints(const Value& tuple) {
    std::vector<int64_t> out;
    for (const auto& x : tuple.items) out.push_back(x->i);
    return out;
  }

  ValuePtr Call(const Value& callable, const Value& args) {
    if (callable.kind != Value::Kind::kGlobal || args.kind != Value::Kind::kTuple) Fail("REDUCE on a non-global");
    if (callable.s == "collections.OrderedDict") return Make(Value::Kind::kDict);
    if (callable.s == "torch._utils._rebuild_parameter") {
      if (args.items.empty() || args.items[0]->kind != Value::Kind::kTensor) Fail("malformed parameter");
      return args.items[0];
    }
    if (callable.s != "torch._utils._rebuild_tensor_v2") Fail("'" + callable.s + "' called as a function");
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.items.size() < 4 || args.items[0]->kind != Value::Kind::kTensor) Fail("malformed tensor");
    const torch::Tensor& storage = args.items[0]->tensor;
    const auto size = Ints(*args.items[2]), stride = Ints(*args.items[3]);
    if (size.size() != stride.size()) Fail("malformed tensor shape");
    const int64_t offset = args.items[1]->i;
    int64_t last = offset;
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) Fail("malformed tensor shape");
      if (size[d] > 0) last += (size[d] - 1) * stride[d];
    }
    const bool empty = std::find(size.begin(), size.end(), 0) != size.end();
    if (offset < 0 || (!empty && last >= storage.numel())) Fail("a tensor reaches past its storage");
    auto v = Make(Value::Kind::kTensor);
    v->tensor = storage.as_strided(size, stride, offset).clone();
    return v;
  }

  caffe2::serialize::PyTorchStreamReader& zip_;
  const char* p_;
  const char* end_;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

const Value* DictValue(const Value& dict, const std::string& key) {
  for (size_t k = 0; k + 1 < dict.items.size(); k += 2) {
    if (dict.items[k]->kind == Value::Kind::kString && dict.items[k]->s == key) return dict.items[k + 1].get();
  }
  return nullptr;
}

}  // namespace

NamedTensors ReadTorchStateDict(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error&) {
    throw IoError(path +
                  ": not a torch.save zip archive (files written by PyTorch < 1.6, or not by torch.save at "
                  "all, are not read: load it in Python and torch.save it again)");
  }
  ValuePtr root;
  try {
    auto [data, size] = zip->getRecord("data.pkl");
    root = Unpickler(*zip, static_cast<const char*>(data.get()), size).Run();
  } catch (const IoError& e) {
    throw IoError(path + ": " + e.what());
  } catch (const c10::Error& e) {
    throw IoError(path + ": unreadable archive (" + e.what_without_backtrace() + ")");
  }
  if (root->kind != Value::Kind::kDict) throw IoError(path + ": the pickle holds no dict of tensors");
  const Value* dict = root.get();
  for (const char* key : {"state_dict", "model_state_dict", "model"}) {
    if (const Value* inner = DictValue(*root, key); inner != nullptr && inner->kind == Value::Kind::kDict) {
      dict = inner;
      break;
    }
  }
  NamedTensors out;
  for (size_t k = 0; k + 1 < dict->items.size(); k += 2) {
    const Value& key = *dict->items[k];
    const Value& value = *dict->items[k + 1];
    if (key.kind != Value::Kind::kString || value.kind != Value::Kind::kTensor) {
      throw IoError(path + ": the state dict holds a value that is not a tensor" +
                    (key.kind == Value::Kind::kString ? " ('" + key.s + "')" : std::string()));
    }
    out.emplace_back(key.s, value.tensor);
  }
  return out;
}

}  // namespace fas
