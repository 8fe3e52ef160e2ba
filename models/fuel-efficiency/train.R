# Fit a random forest regressor for mpg and write training-set metrics.
local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  source(file.path(dirname(sub("^--file=", "", file_arg[1])), "common.R"))
})
suppressPackageStartupMessages(library(randomForest))

main <- function() {
  flags <- parse_flags(list(
    train = "data/train.csv", "model-dir" = "model", metrics = "metrics.json",
    ntree = "500", mtry = "3", seed = "42"
  ))
  ntree <- flag_int(flags, "ntree", min = 1)
  mtry <- flag_int(flags, "mtry", min = 1, max = length(FEATURES))
  seed <- flag_int(flags, "seed")

  frame <- read_table(flags[["train"]])
  x <- frame[, FEATURES]
  y <- frame[[TARGET]]
  set.seed(seed)
  # The x/y interface (not a formula) keeps environments out of the saved object.
  model <- randomForest(x = x, y = y, ntree = ntree, mtry = mtry)

  model_dir <- flags[["model-dir"]]
  if (file.exists(model_dir) && !dir.exists(model_dir)) die(model_dir, " is not a directory")
  unlink(model_dir, recursive = TRUE)
  dir.create(model_dir, recursive = TRUE)
  saveRDS(model, file.path(model_dir, MODEL_FILE))
  writeLines(toJSON(FEATURES, pretty = TRUE), file.path(model_dir, FEATURES_FILE))

  # In-sample fit; the forest's out-of-bag estimate is in model$rsq / model$mse.
  write_metrics(flags[["metrics"]], regression_metrics(y, unname(predict(model, newdata = x))))
}

run(main)
