"""The classical chain the deep JSCC models are compared with: HEVC intra ("BPG") + 5G NR LDPC + QAM.

:mod:`~ota.baseline.hevc` (x265 through pillow-heif, the quality ladder), :mod:`~ota.baseline.ldpc` (Sionna's
5G NR transport blocks), :mod:`~ota.baseline.qam` (Gray QAM, soft demapping), :mod:`~ota.baseline.chain`
(the three joined: a configuration's budget, transmission, reception and the lost image) and
:mod:`~ota.baseline.code_ids` (the configurations a frame header names).
"""
