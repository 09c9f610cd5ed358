"""mmprompts: the reproducible companion to 'Understanding the Multi-modal Prompts of the
Pre-trained Vision-Language Model'."""
from .interop import export_prompts, import_prompts
from .models import LoadedCLIP, WeightsUnavailableError, load_clip
from .prompted import PromptConfig, PromptedCLIP, Trace

__all__ = ["LoadedCLIP", "PromptConfig", "PromptedCLIP", "Trace", "WeightsUnavailableError", "export_prompts",
           "import_prompts", "load_clip"]
__version__ = "0.1.0"
