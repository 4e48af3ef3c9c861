#include "platform/outbox.h"

#include <cstring>
#include <optional>

#include "platform/log.h"
#include "absl/strings/str_cat.h"
#include "platform/events.h"

namespace pbr::platform {
namespace {

void AppendChunk(std::string& out, absl::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(s.data(), s.size());
}

bool ReadChunk(absl::string_view& in, absl::string_view& chunk) {
  uint32_t n;
  if (in.size() < sizeof n) return false;
  std::memcpy(&n, in.data(), sizeof n);
  in.remove_prefix(sizeof n);
  if (in.size() < n) return false;
  chunk = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// The event id inside an entry's value, for error messages ("" when it is not an envelope).
std::string EventIdOf(absl::string_view value) {
  pbr::v1::EventEnvelope e;
  return e.ParseFromArray(value.data(), static_cast<int>(value.size())) ? e.event_id() : std::string();
}

}  // namespace

bool IsPermanentProduceError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::vector<PendingEvent>> Outbox::ReadPending(const Store& store) {
  std::vector<PendingEvent> out;
  absl::Status decode;
  auto st = store.Scan(kOutboxFamily, "", [&](absl::string_view key, absl::string_view value) {
    absl::string_view rest = value, topic, msg_key;
    if (!ReadChunk(rest, topic) || !ReadChunk(rest, msg_key)) {
      decode = absl::DataLossError(absl::StrCat("outbox entry ", DecodeOrderedU64(key), " is malformed"));
      return false;
    }
    out.push_back({DecodeOrderedU64(key), std::string(topic), std::string(msg_key), std::string(rest)});
    return true;
  });
  if (!st.ok()) return st;
  if (!decode.ok()) return decode;
  return out;
}

Outbox::Outbox(Store& store, KafkaSettings settings, Metrics* metrics)
    : store_(store),
      settings_(std::move(settings)),
      metrics_(metrics),
      flow_(std::make_unique<FlowControl>(settings_, [this] {
        if (waits_for_flow_.load()) Nudge();
      })) {}

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(Store& store, KafkaSettings settings, Metrics* metrics) {
  std::unique_ptr<Outbox> outbox(new Outbox(store, std::move(settings), metrics));
  auto last = store.LastKey(kOutboxFamily);
  if (!last.ok()) return last.status();
  uint64_t next = last->has_value() ? DecodeOrderedU64(**last) + 1 : 0;
  // Sequences are shared with the journal and the refused entries, so none is ever reused.
  for (absl::string_view family : {kJournalFamily, kUndeliverableFamily}) {
    if (!store.HasFamily(family)) continue;
    auto l = store.LastKey(family);
    if (!l.ok()) return l.status();
    if (l->has_value()) next = std::max(next, DecodeOrderedU64(**l) + 1);
  }
  outbox->next_seq_ = next;
  int64_t refused = 0;
  if (auto st = store.Scan(kUndeliverableFamily, "", [&](absl::string_view, absl::string_view) { return ++refused, true; });
      !st.ok()) {
    return st;
  }
  outbox->undeliverable_ = refused;
  if (metrics) metrics->SetUndeliverable(refused);
  if (refused > 0) {
    PBR_LOG(err) << "outbox: " << refused << " events the broker refused for good are kept in family "
                 << kUndeliverableFamily << " for an operator (see README: Recovery)";
  }
  return outbox;
}

absl::StatusOr<int64_t> Outbox::RepublishJournal(const std::function<void(int64_t, int64_t)>& progress) {
  int64_t total = 0;
  if (auto st = store_.Scan(kJournalFamily, "", [&](absl::string_view, absl::string_view) { return ++total, true; });
      !st.ok()) {
    return st;
  }
  int64_t done = 0;
  rocksdb::WriteBatch batch;
  // What still waits in the outbox is in the journal too: dropped in the first batch, so the new
  // broker gets every person's events once and in the order they were first staged.
  batch.DeleteRange(store_.Family(kOutboxFamily), EncodeOrderedU64(0), EncodeOrderedU64(next_seq_.load()));
  absl::Status failed;
  auto flush = [&]() {
    if (batch.Count() == 0) return true;
    failed = store_.Write(batch, /*sync=*/true);
    batch.Clear();
    if (progress) progress(done, total);
    return failed.ok();
  };
  auto st = store_.Scan(kJournalFamily, "", [&](absl::string_view key, absl::string_view entry) {
    ++done;
    auto refused = store_.Get(kUndeliverableFamily, key);
    if (!refused.ok()) {
      failed = refused.status();
      return false;
    }
    if (refused->has_value()) return true;  // the broker refused it for good: kept aside, not re-sent
    const uint64_t seq = next_seq_.fetch_add(1);
    batch.Put(store_.Family(kOutboxFamily), EncodeOrderedU64(seq), rocksdb::Slice(entry.data(), entry.size()));
    return batch.Count() < 1000 || flush();
  });
  if (!st.ok()) return st;
  if (!failed.ok() || !flush()) return failed;
  return done;
}

Outbox::~Outbox() { Stop(absl::ZeroDuration()); }

void Outbox::Stage(rocksdb::WriteBatchBase& batch, absl::string_view topic_name, const pbr::v1::EventEnvelope& event) {
  StageRaw(batch, topic_name, event.person_id(), event.SerializeAsString());
}

void Outbox::StageRaw(rocksdb::WriteBatchBase& batch, absl::string_view topic_name, absl::string_view key,
                      absl::string_view value) {
  std::string entry;
  AppendChunk(entry, settings_.Topic(topic_name));
  AppendChunk(entry, key);
  entry.append(value.data(), value.size());
  uint64_t seq;
  {
    std::lock_guard lock(staged_mu_);
    seq = next_seq_.fetch_add(1);
    // Not yet written: its grace starts at the Wake after the write (a consumer's run can be open
    // for seconds), so a quick pass never starts past it while it is still on its way.
    staged_unseen_.emplace(seq, absl::InfiniteFuture());
  }
  batch.Put(store_.Family(kOutboxFamily), EncodeOrderedU64(seq), entry);
  if (keep_journal_) batch.Put(store_.Family(kJournalFamily), EncodeOrderedU64(seq), entry);
}

void Outbox::Nudge() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
    nudged_ = true;
  }
  wake_cv_.notify_one();
}

void Outbox::Wake() {
  {
    std::lock_guard lock(staged_mu_);
    const absl::Time now = absl::Now();
    for (auto& [seq, since] : staged_unseen_) {
      if (since == absl::InfiniteFuture()) since = now;
    }
  }
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

absl::Status Outbox::CreateProducer() {
  auto conf = BaseKafkaConf(settings_);
  if (!conf.ok()) return conf.status();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"linger.ms", "1"},
           // Undelivered messages are retried from the outbox, so a bounded timeout loses nothing.
           {"message.timeout.ms", absl::StrCat(std::max<int64_t>(absl::ToInt64Milliseconds(settings_.timeout) * 6, 60000))},
           {"partitioner", "murmur2_random"},  // the Java client's partitioner: same key, same partition
       }) {
    if (auto st = SetKafkaProperty(conf->get(), k, v); !st.ok()) return st;
  }
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Outbox::OnDelivery);
  rd_kafka_conf_set_opaque(conf->get(), this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
  conf->release();  // owned by rk now
  producer_.reset(rk);
  return absl::OkStatus();
}

absl::Status Outbox::Start() {
  if (auto st = CreateProducer(); !st.ok()) return st;
  if (auto st = flow_->Start(); !st.ok()) return st;
  if (metrics_) metrics_->SetOutboxHeldBack(false);
  stopping_ = false;
  relay_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Outbox::Stop(absl::Duration deadline) {
  {
    std::lock_guard lock(mu_);
    if (!relay_.joinable()) return;
    stopping_ = true;
  }
  wake_cv_.notify_one();
  relay_.join();
  flow_->Stop();
  if (producer_) {
    rd_kafka_flush(producer_.get(), static_cast<int>(absl::ToInt64Milliseconds(deadline)));
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);  // runs the delivery callbacks of the flushed messages
    ForgetDelivered();
    producer_.reset();
  }
  in_flight_.clear();
  flow_->ForgetInFlight();
  resume_from_ = UINT64_MAX;
}

bool Outbox::SetAside(uint64_t seq, absl::string_view topic, absl::string_view entry, absl::string_view why) {
  absl::string_view rest = entry, t, key;
  const bool framed = ReadChunk(rest, t) && ReadChunk(rest, key);
  PBR_LOG(err) << "outbox: the broker refused event " << (framed ? EventIdOf(rest) : "?") << " (outbox entry " << seq
               << ", topic " << topic << ", key " << (framed ? std::string(key) : "?") << ", " << entry.size()
               << " bytes) for good: " << why << ". It is set aside in family " << kUndeliverableFamily
               << " and not retried; later events go on. See README: Recovery.";
  rocksdb::WriteBatch batch;
  batch.Put(store_.Family(kUndeliverableFamily), EncodeOrderedU64(seq), rocksdb::Slice(entry.data(), entry.size()));
  batch.Delete(store_.Family(kOutboxFamily), EncodeOrderedU64(seq));
  if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) {
    PBR_LOG(err) << "outbox: could not set entry " << seq << " aside: " << st;  // tried again on the next pass
    return false;
  }
  ++undeliverable_;
  if (metrics_) metrics_->SetUndeliverable(undeliverable_.load());
  return true;
}

bool Outbox::ForgetDelivered() {
  if (delivered_.empty()) return false;
  rocksdb::WriteBatch batch;
  for (uint64_t seq : delivered_) batch.Delete(store_.Family(kOutboxFamily), EncodeOrderedU64(seq));
  if (auto st = store_.Write(batch, false); !st.ok()) {
    PBR_LOG(err) << "outbox: " << st;  // the entries are re-sent; consumers drop the copies
  }
  delivered_.clear();
  return true;
}

void Outbox::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<Outbox*>(opaque);
  const auto seq = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(msg->_private));
  self->in_flight_.erase(seq);
  const int64_t bytes = FlowControl::RecordBytes(msg->key_len, msg->len);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->flow_->Delivered(rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset, bytes);
  } else {
    self->flow_->NotDelivered(rd_kafka_topic_name(msg->rkt), bytes);
    // Sent again by the next pass, before anything after it.
    self->resume_from_ = std::min(self->resume_from_, seq);
  }
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.push_back(seq);
    if (self->metrics_) self->metrics_->CountProduced(rd_kafka_topic_name(msg->rkt));
  } else if (IsPermanentProduceError(msg->err)) {
    self->refused_.push_back({seq, rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err)});
  } else {
    self->delivery_failed_ = true;
    if (msg->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && msg->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
      PBR_LOG(warn) << "outbox: delivery to " << rd_kafka_topic_name(msg->rkt)
                   << " failed, will retry: " << rd_kafka_err2str(msg->err);
    }
  }
}

uint64_t Outbox::QuickPassStart() {
  constexpr absl::Duration kWriteGrace = absl::Seconds(2);
  uint64_t start;
  {
    std::lock_guard lock(staged_mu_);
    const absl::Time cutoff = absl::Now() - kWriteGrace;
    std::erase_if(staged_unseen_, [&](const auto& e) { return e.second < cutoff; });
    start = staged_unseen_.empty() ? next_seq_.load() : staged_unseen_.begin()->first;
  }
  if (!in_flight_.empty()) start = std::min(start, *in_flight_.begin());
  return std::min(start, resume_from_);
}

void Outbox::RelayPass(bool full) {
  int64_t depth = 0;
  bool queue_full = false;
  bool held = false;    // flow control stopped this pass
  std::string held_for;  // why (empty: a moment's wait for the first read of a topic's offsets)
  const std::string start = full ? std::string() : EncodeOrderedU64(QuickPassStart());
  resume_from_ = UINT64_MAX;  // this pass starts at or before it
  // Where a held or full pass stopped reading: what lies beyond is not read again on every pass (a
  // backlog of a million entries would be re-read for each wake), only estimated for the depth.
  std::optional<uint64_t> stopped_at;
  auto st = store_.ScanFrom(kOutboxFamily, start, [&](absl::string_view key, absl::string_view value) {
    ++depth;
    const uint64_t seq = DecodeOrderedU64(key);
    if (in_flight_.contains(seq)) return true;
    absl::string_view rest = value, topic, msg_key;
    if (!ReadChunk(rest, topic) || !ReadChunk(rest, msg_key)) {
      PBR_LOG(err) << "outbox: entry " << seq << " is malformed; leaving it in place";
      return true;
    }
    std::string topic_name(topic);
    const int64_t bytes = FlowControl::RecordBytes(msg_key.size(), rest.size());
    if (!flow_->MaySend(topic_name, bytes, held_for)) {
      // Nothing after it goes either, whatever its topic: a person's events stay in order.
      held = true;
      resume_from_ = std::min(resume_from_, seq);
      stopped_at = seq;
      return false;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_KEY(msg_key.data(), msg_key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(rest.data()), rest.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(seq))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      in_flight_.insert(seq);
      flow_->Sent(topic_name, bytes);
      std::lock_guard lock(staged_mu_);
      staged_unseen_.erase(seq);
    } else if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      queue_full = true;  // the rest goes in a later pass
      resume_from_ = std::min(resume_from_, seq);
      stopped_at = seq;
      return false;
    } else if (IsPermanentProduceError(err)) {
      if (SetAside(seq, topic_name, value, rd_kafka_err2str(err))) --depth;
    } else {
      PBR_LOG(warn) << "outbox: produce to " << topic_name << ": " << rd_kafka_err2str(err);
    }
    return true;
  });
  if (!st.ok()) PBR_LOG(err) << "outbox: " << st;
  // At most every sequence after the stop is still stored (some were dropped unwritten): an upper
  // bound, which is what back-pressure on the depth needs.
  if (stopped_at) depth += static_cast<int64_t>(next_seq_.load() - 1 - *stopped_at);
  waits_for_flow_ = held;
  if (held && !held_for.empty()) NoteHeldBack(true, held_for);
  else if (!held && !queue_full) NoteHeldBack(false, "");
  if (!full && depth == 0 && depth_ > 0) return;  // only a full pass may declare the outbox empty
  depth_ = depth;
  if (metrics_) metrics_->SetOutboxDepth(depth);
  if (depth == 0) {
    { std::lock_guard lock(mu_); }  // a waiter between its check and its wait is not missed
    empty_cv_.notify_all();
  }
}

void Outbox::NoteHeldBack(bool held, const std::string& why) {
  if (held == held_back_.load()) return;
  if (held) {
    PBR_LOG(warn) << "outbox: holding events back (flow control): " << why
                  << "; they stay stored and are sent as the group catches up";
  } else {
    PBR_LOG(info) << "outbox: sending again (flow control had held events back: " << held_for_ << ")";
  }
  held_for_ = why;
  held_back_ = held;
  if (metrics_) metrics_->SetOutboxHeldBack(held);
}

void Outbox::Run() {
  bool rescan = true;  // entries left from before a restart
  absl::Time next_full_pass = absl::InfinitePast();
  while (true) {
    {
      std::unique_lock lock(mu_);
      // Idle: sleep until woken; while messages are in flight, come back soon to serve their reports.
      if (!rescan && !woken_ && !stopping_) {
        wake_cv_.wait_for(lock, in_flight_.empty() ? std::chrono::milliseconds(50) : std::chrono::milliseconds(1));
      }
      if (stopping_) return;
      // While flow control holds the outbox back, newly staged events wait for the next reading of
      // the groups' offsets (a nudge) rather than each costing a pass that cannot send anything.
      rescan = rescan || nudged_ || (woken_ && !waits_for_flow_.load());
      woken_ = false;
      nudged_ = false;
    }
    if (const absl::Time now = absl::Now(); now >= next_full_pass) {
      RelayPass(/*full=*/true);
      next_full_pass = now + absl::Seconds(5);
    } else if (rescan) {
      RelayPass(/*full=*/false);
    }
    rescan = false;
    rd_kafka_poll(producer_.get(), 0);
    if (char err[512]; rd_kafka_fatal_error(producer_.get(), err, sizeof err) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      PBR_LOG(err) << "outbox: producer fatal error, recreating it: " << err;
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer_.get(), 0);
      producer_.reset();
      in_flight_.clear();
      flow_->ForgetInFlight();
      if (auto st = CreateProducer(); !st.ok()) PBR_LOG(err) << "outbox: " << st;
      rescan = true;
    }
    if (ForgetDelivered()) rescan = true;  // refresh depth
    if (!refused_.empty()) {
      for (const Refused& r : refused_) {
        auto entry = store_.Get(kOutboxFamily, EncodeOrderedU64(r.seq));
        if (entry.ok() && entry->has_value()) SetAside(r.seq, r.topic, **entry, r.why);
      }
      refused_.clear();
      rescan = true;
    }
    if (delivery_failed_) {
      delivery_failed_ = false;
      rescan = true;
    }
  }
}

bool Outbox::WaitUntilEmpty(absl::Duration deadline) {
  std::unique_lock lock(mu_);
  return empty_cv_.wait_for(lock, absl::ToChronoNanoseconds(deadline), [this] { return depth_.load() == 0; });
}

}  // namespace pbr::platform
