"""Aspect-level sentiment: extract aspect terms and give each the polarity of its clause."""

from affectkit.aspects.analyze import AspectAnalysis, AspectAnalyzer, AspectVerdict, analyze_aspects
from affectkit.aspects.extract import EXTRACTORS, RuleAspectExtractor

__all__ = ["AspectAnalysis", "AspectAnalyzer", "AspectVerdict", "analyze_aspects", "EXTRACTORS", "RuleAspectExtractor"]
