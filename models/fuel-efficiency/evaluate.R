# Score the saved random forest on the holdout set; write holdout metrics plus n_rows.
local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  source(file.path(dirname(sub("^--file=", "", file_arg[1])), "common.R"))
})
suppressPackageStartupMessages(library(randomForest))

main <- function() {
  flags <- parse_flags(list(
    "model-dir" = "model", holdout = "data/holdout.csv", metrics = "evaluation.json"
  ))
  loaded <- load_model(flags[["model-dir"]])
  frame <- read_table(flags[["holdout"]])
  pred <- unname(predict(loaded$model, newdata = frame[, loaded$features]))
  metrics <- regression_metrics(frame[[TARGET]], pred)
  metrics$n_rows <- nrow(frame)
  write_metrics(flags[["metrics"]], metrics)
}

run(main)
