// NCF and two-tower through the Model interface: parameter shapes of each
// variant, the training loss equals the loss computed here from the
// parameters (a known answer for the in-batch softmax with log-Q), pair scores
// agree with full-row scores, training improves ranking over the untrained
// model, and exported embeddings are what the towers compute.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "recforge/comm/communicator.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/error_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

struct Built {
  ConfigNode job;
  std::unique_ptr<Model> model;
};

const data::Dataset& dataset() {
  static const data::Dataset d = testing::tiny_dataset(testing::tiny_job("model: {type: popularity}\n"));
  return d;
}

const data::Dataset& dataset_with_genres() {
  static const data::Dataset d = testing::with_genres(dataset());
  return d;
}

Built build(const std::string& model_yaml, const std::string& train_yaml = "train: {epochs: 1}\n",
            const data::Dataset& data = dataset()) {
  static const Resources res = Resources::cpu();
  static auto comm = make_single_communicator();
  Built b{testing::tiny_job("model: " + model_yaml + "\n" + train_yaml), nullptr};
  b.model = ModelRegistry::instance().get(b.job.section("model").get_string("type")).create(b.job.section("model"));
  b.model->build(ModelContext{&data, &res, comm.get(), 42});
  return b;
}

Parameter& parameter(Model& m, const std::string& name) {
  for (Parameter* p : m.parameters()) {
    if (p->name() == name) return *p;
  }
  throw std::runtime_error("no parameter " + name);
}

std::map<std::string, Shape> shapes(Model& m) {
  std::map<std::string, Shape> out;
  for (Parameter* p : m.parameters()) out[p->name()] = p->value().shape();
  return out;
}

TEST(Ncf, VariantsHaveThePapersLayers) {
  const std::int64_t users = dataset().num_users(), items = dataset().num_items();
  auto neumf = build("{type: ncf, variant: neumf, factors: 8, layers: 3}");
  const auto s = shapes(*neumf.model);
  EXPECT_EQ(s.at("ncf.gmf.users"), (Shape{users, 8}));
  EXPECT_EQ(s.at("ncf.mlp.items"), (Shape{items, 32}));  // f 2^(L-1)
  EXPECT_EQ(s.at("ncf.mlp.tower.0.weight"), (Shape{64, 32}));
  EXPECT_EQ(s.at("ncf.mlp.tower.2.weight"), (Shape{16, 8}));
  EXPECT_EQ(s.at("ncf.predict.weight"), (Shape{16, 1}));  // [GMF f, MLP f]
  auto gmf = build("{type: ncf, variant: gmf, factors: 8}");
  EXPECT_EQ(shapes(*gmf.model).size(), 4u);  // two tables, predict weight and bias
  EXPECT_EQ(shapes(*gmf.model).at("ncf.predict.weight"), (Shape{8, 1}));
}

TEST(Ncf, PairScoresMatchFullRows) {
  auto b = build("{type: ncf, factors: 4, layers: 2}");
  const std::vector<std::int32_t> users = {0, 7};
  const std::int64_t items = dataset().num_items();
  Tensor full = Tensor::empty({2, items}, DType::kF32);
  b.model->score(users, full);
  std::vector<std::int32_t> pu, pi;
  for (std::int32_t u : users) {
    for (std::int32_t i = 0; i < items; ++i) {
      pu.push_back(u);
      pi.push_back(i);
    }
  }
  std::vector<float> pairs(pu.size());
  ASSERT_TRUE(b.model->score_pairs(pu, pi, pairs));
  EXPECT_EQ(full.to_vector<float>(), pairs);
}

// Mean rank of each test item among all items (1 = best), training items excluded.
double mean_test_rank(Model& m) {
  const data::Dataset& d = dataset();
  const std::int64_t items = d.num_items();
  double total = 0;
  for (std::int64_t r = 0; r < d.test.size(); ++r) {
    const std::int32_t u = d.test.user[static_cast<std::size_t>(r)], target = d.test.item[static_cast<std::size_t>(r)];
    Tensor scores = Tensor::empty({1, items}, DType::kF32);
    const std::vector<std::int32_t> one = {u};
    Tensor users_emb, items_emb;
    if (m.embeddings(users_emb, items_emb)) {
      for (std::int64_t i = 0; i < items; ++i) {
        float s = 0;
        for (std::int64_t c = 0; c < items_emb.size(1); ++c) {
          s += users_emb.data_as<float>()[u * users_emb.size(1) + c] * items_emb.data_as<float>()[i * items_emb.size(1) + c];
        }
        scores.data_as<float>()[i] = s;
      }
    } else {
      m.score(one, scores);
    }
    std::vector<bool> seen(static_cast<std::size_t>(items), false);
    for (std::int64_t t = 0; t < d.train.size(); ++t) {
      if (d.train.user[static_cast<std::size_t>(t)] == u) seen[static_cast<std::size_t>(d.train.item[static_cast<std::size_t>(t)])] = true;
    }
    int rank = 1;
    for (std::int64_t i = 0; i < items; ++i) {
      if (i != target && !seen[static_cast<std::size_t>(i)] && scores.data_as<float>()[i] > scores.data_as<float>()[target]) ++rank;
    }
    total += rank;
  }
  return total / static_cast<double>(d.test.size());
}

void expect_training_improves_ranking(const std::string& model_yaml, const std::string& train_yaml,
                                      const data::Dataset& data = dataset()) {
  auto b = build(model_yaml, train_yaml, data);
  const double before = mean_test_rank(*b.model);
  static const Resources res = Resources::cpu();
  static auto comm = make_single_communicator();
  const TrainSummary summary = Trainer(b.job.section("train"), *b.model, data, *comm, res, 42, nullptr).fit();
  const double after = mean_test_rank(*b.model);
  EXPECT_LT(after, 0.8 * before) << model_yaml << ": mean test rank " << before << " -> " << after;
  EXPECT_TRUE(std::isfinite(summary.last_epoch_loss));
}

TEST(Ncf, TrainingImprovesRanking) {
  expect_training_improves_ranking("{type: ncf, factors: 8, layers: 2}",
                                   "train: {epochs: 5, batch_size: 128, optimizer: {type: adam, lr: 0.005}}\n");
}

TEST(TwoTower, TrainingImprovesRanking) {
  expect_training_improves_ranking("{type: two_tower, dim: 16, temperature: 0.2}",
                                   "train: {epochs: 8, batch_size: 256, optimizer: {type: adam, lr: 0.01}}\n");
  expect_training_improves_ranking("{type: two_tower, dim: 16, tower: [16], loss: bpr, temperature: 1.0}",
                                   "train: {epochs: 8, batch_size: 256, optimizer: {type: adam, lr: 0.01}}\n");
}

// An item's tower input is its ID row plus the mean of its genres' rows.
TEST(TwoTower, ItemFeaturesAddTheMeanOfTheGenreEmbeddings) {
  auto b = build("{type: two_tower, dim: 4, normalize: false}", "train: {epochs: 1}\n", dataset_with_genres());
  const auto ids = parameter(*b.model, "two_tower.item_ids").value().to_vector<float>();
  const auto genres = parameter(*b.model, "two_tower.item_features").value().to_vector<float>();
  EXPECT_EQ(parameter(*b.model, "two_tower.item_features").value().shape(), (Shape{7, 4}));
  Tensor users, items;
  ASSERT_TRUE(b.model->embeddings(users, items));
  const auto out = items.to_vector<float>();
  for (std::int32_t i : {0, 1, 6, 13}) {
    for (int k = 0; k < 4; ++k) {
      const float mean = i % 5 == 0 ? 0.0f : 0.5f * (genres[static_cast<std::size_t>((i % 4) * 4 + k)] +
                                                      genres[static_cast<std::size_t>((4 + i % 3) * 4 + k)]);
      EXPECT_NEAR(out[static_cast<std::size_t>(i * 4 + k)], ids[static_cast<std::size_t>(i * 4 + k)] + mean, 1e-6)
          << "item " << i << " column " << k;
    }
  }
  // off ignores them; on without features in the data is a config error.
  EXPECT_EQ(shapes(*build("{type: two_tower, dim: 4, item_features: off}", "train: {epochs: 1}\n", dataset_with_genres())
                       .model)
                .count("two_tower.item_features"),
            0u);
  RF_EXPECT_ERROR(build("{type: two_tower, item_features: on}"), ErrorKind::kConfig,
                  "model.item_features is on but the data has none");
}

TEST(TwoTower, TrainingWithItemFeaturesImprovesRankingAndMovesTheGenreTable) {
  expect_training_improves_ranking("{type: two_tower, dim: 16, tower: [16], temperature: 0.2}",
                                   "train: {epochs: 8, batch_size: 256, optimizer: {type: adam, lr: 0.01}}\n",
                                   dataset_with_genres());
  auto b = build("{type: two_tower, dim: 8, temperature: 0.2}", "train: {epochs: 1}\n", dataset_with_genres());
  const std::vector<std::uint32_t> rows = {0, 1, 2, 3, 4, 5, 6, 7};
  TrainBatch batch{rows, 8, 0, 0, 0};
  b.model->train_step(batch);
  const Tensor& grad = parameter(*b.model, "two_tower.item_features").grad();
  double norm = 0;
  for (float g : grad.to_vector<float>()) norm += static_cast<double>(g) * g;
  EXPECT_GT(norm, 0.0) << "no gradient reached the genre table";
}

TEST(TwoTower, SoftmaxLossIsTheInBatchCrossEntropyWithLogQ) {
  const float tau = 0.5f;
  auto b = build("{type: two_tower, dim: 8, temperature: 0.5, normalize: true, log_q: true}");
  const data::Dataset& d = dataset();
  Tensor users, items;
  ASSERT_TRUE(b.model->embeddings(users, items));  // normalised tower outputs
  std::vector<std::uint32_t> rows = {3, 50, 900, 1234, 77};
  std::vector<std::int64_t> counts(static_cast<std::size_t>(d.num_items()), 0);
  for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
  double expected = 0;
  for (std::size_t q = 0; q < rows.size(); ++q) {
    const std::int32_t u = d.train.user[rows[q]];
    std::vector<double> logits;
    for (std::uint32_t c : rows) {
      const std::int32_t i = d.train.item[c];
      double dot = 0;
      for (int k = 0; k < 8; ++k) dot += static_cast<double>(users.data_as<float>()[u * 8 + k]) * items.data_as<float>()[i * 8 + k];
      logits.push_back(dot / tau - std::log(static_cast<double>(counts[static_cast<std::size_t>(i)]) / static_cast<double>(d.train.size())));
    }
    double m = -1e300, z = 0;
    for (double l : logits) m = std::max(m, l);
    for (double l : logits) z += std::exp(l - m);
    expected += m + std::log(z) - logits[q];
  }
  TrainBatch batch{rows, static_cast<std::int64_t>(rows.size()), 0, 0, 0};
  const StepStats stats = b.model->train_step(batch);
  EXPECT_EQ(stats.examples, 5);
  EXPECT_NEAR(stats.read_loss(Resources::cpu()), expected, 1e-4 * std::fabs(expected));
}

TEST(LightGcn, TrainingImprovesRanking) {
  expect_training_improves_ranking("{type: lightgcn, dim: 16, layers: 2}",
                                   "train: {epochs: 5, batch_size: 256, optimizer: {type: adam, lr: 0.01}}\n");
}

// The exported embeddings are mean(E_0, A E_0, A^2 E_0) with A built here,
// densely, from the training pairs: D^-1/2 [[0, R], [R^T, 0]] D^-1/2.
TEST(LightGcn, EmbeddingsAreTheMeanOfPropagatedLayers) {
  auto b = build("{type: lightgcn, dim: 4, layers: 2}");
  const data::Dataset& d = dataset();
  const std::int64_t users = d.num_users(), nodes = users + d.num_items();
  std::vector<std::vector<double>> adj(static_cast<std::size_t>(nodes), std::vector<double>(static_cast<std::size_t>(nodes), 0));
  for (std::int64_t r = 0; r < d.train.size(); ++r) {
    const std::int64_t u = d.train.user[static_cast<std::size_t>(r)], i = users + d.train.item[static_cast<std::size_t>(r)];
    adj[static_cast<std::size_t>(u)][static_cast<std::size_t>(i)] = adj[static_cast<std::size_t>(i)][static_cast<std::size_t>(u)] = 1;
  }
  std::vector<double> degree(static_cast<std::size_t>(nodes), 0);
  for (std::int64_t a = 0; a < nodes; ++a) {
    for (std::int64_t c = 0; c < nodes; ++c) degree[static_cast<std::size_t>(a)] += adj[static_cast<std::size_t>(a)][static_cast<std::size_t>(c)];
  }
  const Tensor e0 = b.model->parameters()[0]->value();
  std::vector<double> layer(e0.data_as<float>(), e0.data_as<float>() + e0.numel()), total = layer;
  for (int k = 0; k < 2; ++k) {
    std::vector<double> next(layer.size(), 0);
    for (std::int64_t a = 0; a < nodes; ++a) {
      for (std::int64_t c = 0; c < nodes; ++c) {
        const double w = adj[static_cast<std::size_t>(a)][static_cast<std::size_t>(c)];
        if (w == 0) continue;
        const double norm = 1.0 / std::sqrt(degree[static_cast<std::size_t>(a)] * degree[static_cast<std::size_t>(c)]);
        for (int f = 0; f < 4; ++f) next[static_cast<std::size_t>(a * 4 + f)] += norm * layer[static_cast<std::size_t>(c * 4 + f)];
      }
    }
    layer = next;
    for (std::size_t x = 0; x < total.size(); ++x) total[x] += layer[x];
  }
  Tensor user_emb, item_emb;
  ASSERT_TRUE(b.model->embeddings(user_emb, item_emb));
  ASSERT_EQ(user_emb.shape(), (Shape{users, 4}));
  for (std::int64_t a = 0; a < nodes; ++a) {
    for (int f = 0; f < 4; ++f) {
      const float got = a < users ? user_emb.data_as<float>()[a * 4 + f] : item_emb.data_as<float>()[(a - users) * 4 + f];
      ASSERT_NEAR(got, total[static_cast<std::size_t>(a * 4 + f)] / 3.0, 1e-5) << "node " << a << " column " << f;
    }
  }
}

TEST(SasRec, TrainingImprovesRanking) {
  expect_training_improves_ranking("{type: sasrec, dim: 16, blocks: 1, max_len: 20, dropout: 0.1}",
                                   "train: {epochs: 10, batch_size: 64, optimizer: {type: adam, lr: 0.005}}\n");
}

// Next-item prediction from a history that holds the held-out item's future
// (a random split) is refused, naming the user.
TEST(SasRec, AHeldOutRowBeforeTheUsersTrainingRowsIsRefused) {
  data::Dataset mixed = dataset();
  ASSERT_TRUE(mixed.test.has_timestamps());
  const std::int32_t u = mixed.test.user[3];
  mixed.test.timestamp[3] = 0;
  RF_EXPECT_ERROR(build("{type: sasrec, dim: 16, blocks: 1, max_len: 20}", "train: {epochs: 1}\n", mixed),
                  ErrorKind::kConfig, "sasrec predicts each user's next item from the items before it, but user " +
                                          mixed.users.text(u) + " has a test interaction at time 0, before their "
                                                                "last training one");
}

TEST(SasRec, AnExampleIsAUserAndHeadsMustDivideTheWidth) {
  auto b = build("{type: sasrec, dim: 16, blocks: 2, heads: 2, max_len: 10}");
  EXPECT_EQ(b.model->num_examples(), dataset().num_users());
  EXPECT_EQ(shapes(*b.model).at("sasrec.items"), (Shape{dataset().num_items() + 1, 16}));  // row 0: padding
  EXPECT_EQ(shapes(*b.model).at("sasrec.positions"), (Shape{10, 16}));
  EXPECT_THROW(build("{type: sasrec, dim: 10, heads: 3}"), Error);
}

// Packed positions (the default) compute the padded layout's function: with
// dropout off, one step gives the same loss and gradients, and the exported
// user vectors are the same.
TEST(SasRec, PackedPositionsTrainLikeThePaddedLayout) {
  const std::string model = "{type: sasrec, dim: 16, blocks: 2, heads: 2, max_len: 20, dropout: 0.0, packed: ";
  auto packed = build(model + "true}"), padded = build(model + "false}");
  std::vector<std::uint32_t> users(static_cast<std::size_t>(dataset().num_users()));
  for (std::size_t u = 0; u < users.size(); ++u) users[u] = static_cast<std::uint32_t>(u);
  const TrainBatch batch{users, static_cast<std::int64_t>(users.size()), 0, 0, 0};
  const StepStats a = packed.model->train_step(batch), b = padded.model->train_step(batch);
  EXPECT_EQ(a.examples, b.examples);
  const double loss_a = a.read_loss(Resources::cpu()), loss_b = b.read_loss(Resources::cpu());
  EXPECT_NEAR(loss_a, loss_b, 1e-5 * std::fabs(loss_b));
  for (Parameter* p : padded.model->parameters()) {
    Parameter& q = parameter(*packed.model, p->name());
    SCOPED_TRACE(p->name());
    // Embedding gradients as dense tables (rows may come in another order).
    const auto dense = [](Parameter& x) {
      if (!x.is_embedding()) return x.grad().to_vector<float>();
      const std::int64_t d = x.value().size(1);
      std::vector<float> out(static_cast<std::size_t>(x.value().numel()), 0.0f);
      const auto ids = x.rows().ids.to_vector<std::int32_t>();
      const auto values = x.rows().values.to_vector<float>();
      for (std::size_t k = 0; k < ids.size(); ++k) {
        for (std::int64_t c = 0; c < d; ++c) out[static_cast<std::size_t>(ids[k] * d + c)] += values[k * static_cast<std::size_t>(d) + static_cast<std::size_t>(c)];
      }
      return out;
    };
    const std::vector<float> expected = dense(*p), got = dense(q);
    ASSERT_EQ(got.size(), expected.size());
    double norm = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-6 + 1e-3 * std::fabs(expected[i])) << "element " << i;
      norm += std::fabs(expected[i]);
    }
    EXPECT_GT(norm, 0.0);
  }
  Tensor users_a, items_a, users_b, items_b;
  ASSERT_TRUE(packed.model->embeddings(users_a, items_a));
  ASSERT_TRUE(padded.model->embeddings(users_b, items_b));
  const auto ua = users_a.to_vector<float>(), ub = users_b.to_vector<float>();
  for (std::size_t i = 0; i < ub.size(); ++i) ASSERT_NEAR(ua[i], ub[i], 1e-5) << "user vector element " << i;
}

// Next-item inference from a posted history (the server's fold-in): a
// training user's own sequence gives exactly their exported vector, the
// order of the history matters, and the longest history is cut to max_len.
TEST(SasRec, FoldInOfATrainingSequenceIsTheUsersVector) {
  auto b = build("{type: sasrec, dim: 16, blocks: 2, max_len: 6}");
  Tensor users, items;
  ASSERT_TRUE(b.model->embeddings(users, items));
  const data::Dataset& d = dataset();
  std::vector<std::vector<std::int32_t>> sequences(static_cast<std::size_t>(d.num_users()));
  for (std::size_t r = 0; r < d.train.user.size(); ++r) sequences[d.train.user[r]].push_back(d.train.item[r]);
  std::vector<float> folded(16), reversed(16);
  for (const std::int32_t u : {0, 1, 7}) {
    const auto& seq = sequences[static_cast<std::size_t>(u)];
    ASSERT_GT(seq.size(), 6u);  // longer than max_len: cut to the latest 6
    ASSERT_TRUE(b.model->fold_in(seq, {}, folded));
    for (int c = 0; c < 16; ++c) EXPECT_NEAR(folded[static_cast<std::size_t>(c)], users.view().at<float>(u, c), 1e-5);
    std::vector<std::int32_t> backwards(seq.end() - 6, seq.end());
    std::reverse(backwards.begin(), backwards.end());
    ASSERT_TRUE(b.model->fold_in(backwards, {}, reversed));
    EXPECT_NE(folded, reversed);
  }
  EXPECT_FALSE(b.model->fold_in({}, {}, folded));
  RF_EXPECT_ERROR(b.model->fold_in(std::vector<std::int32_t>{d.num_items()}, {}, folded), ErrorKind::kInvalidArgument,
                  "sasrec fold_in: item " + std::to_string(d.num_items()) + " outside");
  EXPECT_TRUE(b.model->supports_fold_in());
}

// The test split after a validation split (the paper's protocol): a user's
// vector reads the validation items after the training ones, exactly as a
// fold-in of that history; cleared, it is the training sequence's again.
TEST(SasRec, ExtraHistoryIsReadAfterTheTrainingItems) {
  auto b = build("{type: sasrec, dim: 16, blocks: 2, max_len: 6}");
  const data::Dataset& d = dataset();
  std::vector<std::vector<std::int32_t>> sequences(static_cast<std::size_t>(d.num_users()));
  for (std::size_t r = 0; r < d.train.user.size(); ++r) sequences[d.train.user[r]].push_back(d.train.item[r]);
  // Two "validation" items each for users 0 and 3 (any items: the model reads what it is given).
  const data::InteractionTable valid{{0, 0, 3, 3}, {5, 9, 2, 11}, {}, {}};
  Tensor plain_users, users, items;
  ASSERT_TRUE(b.model->embeddings(plain_users, items));
  b.model->set_extra_history(&valid);
  ASSERT_TRUE(b.model->embeddings(users, items));
  std::vector<float> folded(16);
  for (const std::int32_t u : {0, 3}) {
    std::vector<std::int32_t> history = sequences[static_cast<std::size_t>(u)];
    for (std::size_t r = 0; r < valid.user.size(); ++r)
      if (valid.user[r] == u) history.push_back(valid.item[r]);
    ASSERT_TRUE(b.model->fold_in(history, {}, folded));
    for (int c = 0; c < 16; ++c) EXPECT_NEAR(folded[static_cast<std::size_t>(c)], users.view().at<float>(u, c), 1e-5);
    EXPECT_NE(users.view().at<float>(u, 0), plain_users.view().at<float>(u, 0));
  }
  for (int c = 0; c < 16; ++c) EXPECT_EQ(users.view().at<float>(1, c), plain_users.view().at<float>(1, c));
  b.model->set_extra_history(nullptr);
  ASSERT_TRUE(b.model->embeddings(users, items));
  EXPECT_EQ(users.to_vector<float>(), plain_users.to_vector<float>());
}

// Factors that all start at zero never move (every gradient is a product of
// them): refused, naming the key, where nothing else breaks the symmetry.
TEST(FactorModels, ZeroInitStdIsRefusedNamingTheKey) {
  for (const std::string type : {"mf", "als", "lightgcn", "two_tower"}) {
    RF_EXPECT_ERROR(build("{type: " + type + ", init_std: 0}"), ErrorKind::kConfig,
                    "model.init_std 0: factors that all start at zero get zero gradients and never move");
  }
  EXPECT_NO_THROW(build("{type: two_tower, tower: [8], init_std: 0}"));  // the MLP's weights are random
  EXPECT_NO_THROW(build("{type: lightgcn, init_std: 0.001}"));
}

TEST(TwoTower, BadConfigIsRefusedWithTheKey) {
  EXPECT_THROW(build("{type: two_tower, loss: hinge}"), Error);
  EXPECT_THROW(build("{type: two_tower, temperature: 0}"), Error);
  // Dropout acts between tower layers: with fewer than two it would do nothing.
  RF_EXPECT_ERROR(build("{type: two_tower, tower: [16], dropout: 0.3}"), ErrorKind::kConfig,
                  "model.dropout 0.3 has no effect: dropout acts between tower layers, and model.tower lists 1 width");
  RF_EXPECT_ERROR(build("{type: two_tower, dropout: 0.3}"), ErrorKind::kConfig, "model.tower lists 0 widths");
  EXPECT_NO_THROW(build("{type: two_tower, tower: [16, 8], dropout: 0.3}"));
}

}  // namespace
}  // namespace recforge
