"""The two-alternative forced-choice user study: :mod:`~ota.study.kit` builds the static page and its trials
(``page.html``), :mod:`~ota.study.analysis` turns the answers into preferences with confidence intervals."""
