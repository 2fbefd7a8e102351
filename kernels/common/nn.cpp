// The checked entry points of nn.hpp: dtype, layout, device and shape checks,
// then dispatch to the kernel of the tensors' device. A wrong shape is a bug in
// a model or layer, so the message names the op and both shapes.
#include "recforge/kernels/nn.hpp"

namespace recforge::kernels {
namespace {

// Every tensor f32 and contiguous, on the device of the first.
void check_f32(const char* op, std::initializer_list<const TensorView*> tensors) {
  const TensorView& first = **tensors.begin();
  for (const TensorView* t : tensors) {
    check_dtype(op, *t, DType::kF32);
    check_contiguous(op, *t);
    check_same_device(op, first, *t);
  }
}

void check_same_shape(const char* op, const TensorView& a, const TensorView& b) {
  RF_CHECK(a.shape == b.shape, op, ": shapes ", a.shape.str(), " and ", b.shape.str(), " differ");
}

void check_matrix(const char* op, const TensorView& t) {
  RF_CHECK(t.ndim() == 2, op, ": needs a 2-d tensor, got ", t.shape.str());
}

void check_rows_vector(const char* op, const TensorView& matrix, const TensorView& v) {
  RF_CHECK(v.numel() == matrix.shape[0], op, ": ", v.shape.str(), " does not have one value per row of ",
           matrix.shape.str());
}

void check_columns_vector(const char* op, const TensorView& matrix, const TensorView& v) {
  RF_CHECK(v.numel() == matrix.shape[1], op, ": ", v.shape.str(), " does not have one value per column of ",
           matrix.shape.str());
}

void check_targets(const char* op, const TensorView& logits, const TensorView& target) {
  check_dtype(op, target, DType::kI32);
  check_contiguous(op, target);
  check_same_device(op, logits, target);
  check_rows_vector(op, logits, target);
}

}  // namespace

void activation_forward(const Resources& res, Activation f, const TensorView& x, TensorView y) {
  check_f32("activation_forward", {&x, &y});
  check_same_shape("activation_forward", x, y);
  dispatch<activation_forward_op>(x.device)(res, f, x, y);
}

void activation_backward(const Resources& res, Activation f, const TensorView& x, const TensorView& y,
                         const TensorView& dy, TensorView dx, bool accumulate) {
  check_f32("activation_backward", {&x, &y, &dy, &dx});
  for (const TensorView* t : std::initializer_list<const TensorView*>{&y, &dy, &dx}) check_same_shape("activation_backward", x, *t);
  dispatch<activation_backward_op>(x.device)(res, f, x, y, dy, dx, accumulate);
}

void binary(const Resources& res, Binary op, const TensorView& a, const TensorView& b, TensorView y) {
  check_f32("binary", {&a, &b, &y});
  check_same_shape("binary", a, b);
  check_same_shape("binary", a, y);
  dispatch<binary_op>(a.device)(res, op, a, b, y);
}

void axpy(const Resources& res, float alpha, const TensorView& x, TensorView y) {
  check_f32("axpy", {&x, &y});
  check_same_shape("axpy", x, y);
  dispatch<axpy_op>(x.device)(res, alpha, x, y);
}

void mul_accumulate(const Resources& res, const TensorView& a, const TensorView& b, TensorView y) {
  check_f32("mul_accumulate", {&a, &b, &y});
  check_same_shape("mul_accumulate", a, b);
  check_same_shape("mul_accumulate", a, y);
  dispatch<mul_accumulate_op>(a.device)(res, a, b, y);
}

void scale(const Resources& res, float alpha, const TensorView& x, TensorView y) {
  check_f32("scale", {&x, &y});
  check_same_shape("scale", x, y);
  dispatch<scale_op>(x.device)(res, alpha, x, y);
}

void bias_add(const Resources& res, const TensorView& x, const TensorView& b, TensorView y) {
  check_f32("bias_add", {&x, &b, &y});
  check_matrix("bias_add", x);
  check_columns_vector("bias_add", x, b);
  check_same_shape("bias_add", x, y);
  dispatch<bias_add_op>(x.device)(res, x, b, y);
}

void sum_rows_accumulate(const Resources& res, const TensorView& dy, TensorView db) {
  check_f32("sum_rows_accumulate", {&dy, &db});
  check_matrix("sum_rows_accumulate", dy);
  check_columns_vector("sum_rows_accumulate", dy, db);
  dispatch<sum_rows_accumulate_op>(dy.device)(res, dy, db);
}

void rowwise_dot(const Resources& res, const TensorView& a, const TensorView& b, TensorView y) {
  check_f32("rowwise_dot", {&a, &b, &y});
  check_matrix("rowwise_dot", a);
  check_same_shape("rowwise_dot", a, b);
  check_rows_vector("rowwise_dot", a, y);
  dispatch<rowwise_dot_op>(a.device)(res, a, b, y);
}

void scale_rows_accumulate(const Resources& res, const TensorView& x, const TensorView& s, TensorView y) {
  check_f32("scale_rows_accumulate", {&x, &s, &y});
  check_matrix("scale_rows_accumulate", x);
  check_rows_vector("scale_rows_accumulate", x, s);
  check_same_shape("scale_rows_accumulate", x, y);
  dispatch<scale_rows_accumulate_op>(x.device)(res, x, s, y);
}

void copy_columns(const Resources& res, const TensorView& src, std::int64_t src_col, TensorView dst,
                  std::int64_t dst_col, std::int64_t width, bool accumulate) {
  check_f32("copy_columns", {&src, &dst});
  check_matrix("copy_columns", src);
  check_matrix("copy_columns", dst);
  RF_CHECK(src.shape[0] == dst.shape[0], "copy_columns: ", src.shape.str(), " and ", dst.shape.str(),
           " differ in rows");
  RF_CHECK(width >= 0 && src_col >= 0 && dst_col >= 0 && src_col + width <= src.shape[1] &&
               dst_col + width <= dst.shape[1],
           "copy_columns: columns [", src_col, ", ", src_col + width, ") of ", src.shape.str(), " to [", dst_col, ", ",
           dst_col + width, ") of ", dst.shape.str());
  dispatch<copy_columns_op>(src.device)(res, src, src_col, dst, dst_col, width, accumulate);
}

void sum_all(const Resources& res, const TensorView& x, TensorView out) {
  check_f32("sum_all", {&x, &out});
  RF_CHECK(out.numel() == 1, "sum_all: the output must hold 1 value, not ", out.shape.str());
  dispatch<sum_all_op>(x.device)(res, x, out);
}

void broadcast_accumulate(const Resources& res, const TensorView& dy, float alpha, TensorView dx) {
  check_f32("broadcast_accumulate", {&dy, &dx});
  RF_CHECK(dy.numel() == 1, "broadcast_accumulate: dy must hold 1 value, not ", dy.shape.str());
  dispatch<broadcast_accumulate_op>(dx.device)(res, dy, alpha, dx);
}

void bce_with_logits(const Resources& res, const TensorView& logits, const TensorView& targets, TensorView loss) {
  check_f32("bce_with_logits", {&logits, &targets, &loss});
  check_same_shape("bce_with_logits", logits, targets);
  check_same_shape("bce_with_logits", logits, loss);
  dispatch<bce_with_logits_op>(logits.device)(res, logits, targets, loss);
}

void bce_with_logits_backward(const Resources& res, const TensorView& logits, const TensorView& targets,
                              const TensorView& dloss, TensorView dlogits) {
  check_f32("bce_with_logits_backward", {&logits, &targets, &dloss, &dlogits});
  for (const TensorView* t : std::initializer_list<const TensorView*>{&targets, &dloss, &dlogits}) check_same_shape("bce_with_logits_backward", logits, *t);
  dispatch<bce_with_logits_backward_op>(logits.device)(res, logits, targets, dloss, dlogits);
}

void softmax_cross_entropy(const Resources& res, const TensorView& logits, const TensorView& target, TensorView probs,
                           TensorView loss) {
  check_f32("softmax_cross_entropy", {&logits, &probs, &loss});
  check_matrix("softmax_cross_entropy", logits);
  check_targets("softmax_cross_entropy", logits, target);
  check_same_shape("softmax_cross_entropy", logits, probs);
  check_rows_vector("softmax_cross_entropy", logits, loss);
  dispatch<softmax_cross_entropy_op>(logits.device)(res, logits, target, probs, loss);
}

void softmax_cross_entropy_backward(const Resources& res, const TensorView& probs, const TensorView& target,
                                    const TensorView& dloss, TensorView dlogits) {
  check_f32("softmax_cross_entropy_backward", {&probs, &dloss, &dlogits});
  check_matrix("softmax_cross_entropy_backward", probs);
  check_targets("softmax_cross_entropy_backward", probs, target);
  check_rows_vector("softmax_cross_entropy_backward", probs, dloss);
  check_same_shape("softmax_cross_entropy_backward", probs, dlogits);
  dispatch<softmax_cross_entropy_backward_op>(probs.device)(res, probs, target, dloss, dlogits);
}

void softmax_rows(const Resources& res, const TensorView& x, TensorView y) {
  check_f32("softmax_rows", {&x, &y});
  check_matrix("softmax_rows", x);
  check_same_shape("softmax_rows", x, y);
  dispatch<softmax_rows_op>(x.device)(res, x, y);
}

void softmax_rows_backward(const Resources& res, const TensorView& y, const TensorView& dy, TensorView dx) {
  check_f32("softmax_rows_backward", {&y, &dy, &dx});
  check_matrix("softmax_rows_backward", y);
  check_same_shape("softmax_rows_backward", y, dy);
  check_same_shape("softmax_rows_backward", y, dx);
  dispatch<softmax_rows_backward_op>(y.device)(res, y, dy, dx);
}

void layer_norm(const Resources& res, const TensorView& x, const TensorView& gamma, const TensorView& beta, float eps,
                TensorView y, TensorView mean, TensorView rstd) {
  check_f32("layer_norm", {&x, &gamma, &beta, &y, &mean, &rstd});
  check_matrix("layer_norm", x);
  check_columns_vector("layer_norm", x, gamma);
  check_columns_vector("layer_norm", x, beta);
  check_same_shape("layer_norm", x, y);
  check_rows_vector("layer_norm", x, mean);
  check_rows_vector("layer_norm", x, rstd);
  RF_CHECK(eps > 0.0f, "layer_norm: eps must be > 0");
  dispatch<layer_norm_op>(x.device)(res, x, gamma, beta, eps, y, mean, rstd);
}

void layer_norm_backward(const Resources& res, const TensorView& x, const TensorView& gamma, const TensorView& mean,
                         const TensorView& rstd, const TensorView& dy, TensorView dx, TensorView dgamma,
                         TensorView dbeta) {
  check_f32("layer_norm_backward", {&x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta});
  check_matrix("layer_norm_backward", x);
  check_same_shape("layer_norm_backward", x, dy);
  check_same_shape("layer_norm_backward", x, dx);
  for (const TensorView* t : std::initializer_list<const TensorView*>{&gamma, &dgamma, &dbeta}) check_columns_vector("layer_norm_backward", x, *t);
  check_rows_vector("layer_norm_backward", x, mean);
  check_rows_vector("layer_norm_backward", x, rstd);
  dispatch<layer_norm_backward_op>(x.device)(res, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
}

void l2_normalize_rows(const Resources& res, const TensorView& x, float eps, TensorView y, TensorView norms) {
  check_f32("l2_normalize_rows", {&x, &y, &norms});
  check_matrix("l2_normalize_rows", x);
  check_same_shape("l2_normalize_rows", x, y);
  check_rows_vector("l2_normalize_rows", x, norms);
  RF_CHECK(eps > 0.0f, "l2_normalize_rows: eps must be > 0");
  dispatch<l2_normalize_rows_op>(x.device)(res, x, eps, y, norms);
}

void l2_normalize_rows_backward(const Resources& res, const TensorView& x, const TensorView& y,
                                const TensorView& norms, float eps, const TensorView& dy, TensorView dx) {
  check_f32("l2_normalize_rows_backward", {&x, &y, &norms, &dy, &dx});
  check_matrix("l2_normalize_rows_backward", x);
  for (const TensorView* t : std::initializer_list<const TensorView*>{&y, &dy, &dx}) check_same_shape("l2_normalize_rows_backward", x, *t);
  check_rows_vector("l2_normalize_rows_backward", x, norms);
  dispatch<l2_normalize_rows_backward_op>(x.device)(res, x, y, norms, eps, dy, dx);
}

namespace {

void check_mask(const char* op, const TensorView& like, const TensorView& mask) {
  if (mask.data == nullptr) return;
  RF_CHECK(mask.dtype == DType::kU8 && mask.device == like.device && mask.shape.numel() == like.shape.numel(), op,
           ": the mask must be u8 with ", like.shape.numel(), " elements on ", like.device.str());
}

}  // namespace

void dropout(const Resources& res, const TensorView& x, float p, const DropoutKey& key, TensorView y, TensorView mask) {
  check_f32("dropout", {&x, &y});
  check_same_shape("dropout", x, y);
  check_mask("dropout", x, mask);
  RF_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), not ", p);
  dispatch<dropout_op>(x.device)(res, x, p, key, y, mask);
}

void dropout_backward(const Resources& res, const TensorView& dy, float p, const DropoutKey& key, TensorView dx,
                      const TensorView& mask, bool accumulate) {
  check_f32("dropout_backward", {&dy, &dx});
  check_same_shape("dropout_backward", dy, dx);
  check_mask("dropout_backward", dy, mask);
  RF_CHECK(p >= 0.0f && p < 1.0f, "dropout_backward: p must be in [0, 1), not ", p);
  dispatch<dropout_backward_op>(dy.device)(res, dy, p, key, mask, dx, accumulate);
}

}  // namespace recforge::kernels
