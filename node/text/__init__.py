"""Text intelligence (文本智能): Chinese segmentation and normalisation, personal-data masking,
full-text search backends, duplicate finding (判重), classification (自动归类) and hot topics (热点).

Submodules are imported on demand; importing this package loads neither jieba nor scikit-learn.
"""
