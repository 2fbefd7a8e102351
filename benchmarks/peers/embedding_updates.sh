# shellcheck shell=bash
# Sourced by the PyTorch side-by-side benches: recforge's
# train.optimizer.embedding_updates for the peer's optimizer, so that both sides
# move the embedding rows alike.
#   updates=$(embedding_updates "$optimizer")
#   adam       dense  every row every step (PyTorch's Adam)
#   lazy_adam  lazy   only a batch's rows (PyTorch's SparseAdam)
embedding_updates() {
  case "$1" in
    adam) echo dense ;;
    lazy_adam) echo lazy ;;
    *) echo "OPTIMIZER is adam or lazy_adam, not '$1'" >&2; return 2 ;;
  esac
}
