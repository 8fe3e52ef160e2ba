# Shared helpers for the fuel-efficiency example model (ingest, train, evaluate, predict).
suppressPackageStartupMessages(library(jsonlite))

FEATURES <- c("cyl", "disp", "hp", "drat", "wt", "qsec", "vs", "am", "gear", "carb")
TARGET <- "mpg"
MODEL_FILE <- "model.rds"
FEATURES_FILE <- "features.json"

script_name <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) > 0) basename(sub("^--file=", "", file_arg[1])) else "R"
}

# One-line message on stderr, then exit (status 2 = bad flags, 1 = anything else).
die <- function(..., status = 1) {
  msg <- trimws(gsub("\\s+", " ", paste0(..., collapse = "")))
  cat(script_name(), ": error: ", msg, "\n", file = stderr(), sep = "")
  quit(save = "no", status = status)
}

# Run a script's main(), turning any R error into a one-line message and exit status 1.
run <- function(main) {
  tryCatch(main(), error = function(e) die(conditionMessage(e)))
  invisible(NULL)
}

# Parse `--name value` pairs; every accepted name must appear in `defaults` (strings).
parse_flags <- function(defaults, args = commandArgs(trailingOnly = TRUE)) {
  flags <- defaults
  if (length(args) %% 2 != 0) die("flags must be given as --name value pairs", status = 2)
  for (i in seq_len(length(args) %/% 2)) {
    name <- args[2 * i - 1]
    key <- sub("^--", "", name)
    if (!startsWith(name, "--") || !(key %in% names(defaults))) {
      die("unrecognized argument ", name, " (known: ",
          paste0("--", names(defaults), collapse = ", "), ")", status = 2)
    }
    flags[[key]] <- args[2 * i]
  }
  flags
}

flag_int <- function(flags, key, min = -.Machine$integer.max, max = .Machine$integer.max) {
  text <- flags[[key]]
  value <- if (grepl("^[+-]?[0-9]{1,9}$", text)) as.integer(text) else NA_integer_
  if (is.na(value) || value < min || value > max) {
    die("argument --", key, ": expected an integer in [", min, ", ", max, "], got '", text, "'",
        status = 2)
  }
  value
}

flag_fraction <- function(flags, key) {
  text <- flags[[key]]
  value <- suppressWarnings(as.numeric(text))
  if (is.na(value) || value <= 0 || value >= 1) {
    die("argument --", key, ": expected a number strictly between 0 and 1, got '", text, "'",
        status = 2)
  }
  value
}

# Read a train/holdout CSV and check it has numeric, complete feature and target columns.
read_table <- function(path) {
  if (!file.exists(path)) die(path, ": no such file")
  frame <- tryCatch(
    utils::read.csv(path, check.names = FALSE),
    error = function(e) die("cannot read ", path, ": ", conditionMessage(e))
  )
  missing <- setdiff(c(FEATURES, TARGET), names(frame))
  if (length(missing) > 0) die(path, ": missing column(s) ", paste(missing, collapse = ", "))
  if (nrow(frame) == 0) die(path, ": no data rows")
  frame <- frame[, c(FEATURES, TARGET)]
  ok <- vapply(frame, function(col) is.numeric(col) && all(is.finite(col)), logical(1))
  if (!all(ok)) die(path, ": column(s) ", paste(names(frame)[!ok], collapse = ", "),
                    " must contain only numbers")
  frame
}

regression_metrics <- function(y, pred) {
  err <- y - pred
  list(
    mae = mean(abs(err)),
    r2 = 1 - sum(err^2) / sum((y - mean(y))^2),
    rmse = sqrt(mean(err^2))
  )
}

# Shortest decimal text (up to 17 significant digits) that reads back as exactly `x`.
num_json <- function(x) {
  if (!is.finite(x)) return("null")
  if (is.integer(x)) return(as.character(x))
  for (digits in 15:17) {
    text <- sprintf("%.*g", digits, x)
    if (as.numeric(text) == x) break
  }
  text
}

# Flat JSON object, keys sorted, doubles rounded to 6 decimals, same layout as Python's
# json.dumps(indent=2, sort_keys=True), plus a trailing newline.
write_metrics <- function(path, metrics) {
  keys <- sort(names(metrics))
  values <- vapply(keys, function(k) {
    v <- metrics[[k]]
    num_json(if (is.integer(v)) v else round(v, 6))
  }, character(1))
  body <- paste0('  "', keys, '": ', values, collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), path)
}

load_model <- function(model_dir) {
  for (name in c(MODEL_FILE, FEATURES_FILE)) {
    path <- file.path(model_dir, name)
    if (!file.exists(path)) die("cannot load model: ", path, ": no such file")
  }
  tryCatch(
    list(
      model = readRDS(file.path(model_dir, MODEL_FILE)),
      features = unlist(fromJSON(file.path(model_dir, FEATURES_FILE)))
    ),
    error = function(e) die("cannot load model from ", model_dir, ": ", conditionMessage(e))
  )
}
