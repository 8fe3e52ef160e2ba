# Write R's built-in mtcars data as data/train.csv and data/holdout.csv (plain random split).
local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  source(file.path(dirname(sub("^--file=", "", file_arg[1])), "common.R"))
})

main <- function() {
  flags <- parse_flags(list("out-dir" = "data", "holdout-fraction" = "0.25", seed = "42"))
  fraction <- flag_fraction(flags, "holdout-fraction")
  seed <- flag_int(flags, "seed")

  data <- datasets::mtcars[, c(FEATURES, TARGET)]
  n <- nrow(data)
  n_holdout <- round(n * fraction)
  if (n_holdout < 1 || n_holdout > n - 2) {
    die("--holdout-fraction ", fraction, " leaves too few rows in one part (", n, " rows)")
  }
  set.seed(seed)
  in_holdout <- seq_len(n) %in% sample.int(n, n_holdout)

  out_dir <- flags[["out-dir"]]
  dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
  # Car names are row names; they are dropped (no index column).
  write.csv(data[!in_holdout, ], file.path(out_dir, "train.csv"), row.names = FALSE, quote = FALSE)
  write.csv(data[in_holdout, ], file.path(out_dir, "holdout.csv"), row.names = FALSE, quote = FALSE)
}

run(main)
