"""Classic ML generation: TF-IDF word and character n-grams plus hand features, linear models and trees."""

from affectkit.analyzers.classic.model import ESTIMATORS, ClassicAnalyzer

__all__ = ["ClassicAnalyzer", "ESTIMATORS"]
