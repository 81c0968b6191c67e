// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// Benchmark baseline only (bench/minting.py): OpenZeppelin's ERC721, one token per mint call.
contract ReferenceERC721 is ERC721, Ownable {
    constructor(address initialOwner) ERC721("Reference", "REF") Ownable(initialOwner) {}

    function mint(address to, uint256 tokenId) external onlyOwner {
        _mint(to, tokenId);
    }
}
